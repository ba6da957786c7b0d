"""Analytics services: `aggregates` computes and stores the daily aggregates."""
