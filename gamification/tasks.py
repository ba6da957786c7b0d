"""Thin Celery entry points for gamification: fetch by id, call one service, return."""
