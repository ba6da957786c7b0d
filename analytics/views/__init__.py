"""Analytics pages under /dashboard/analytics/, a module per page family (thin: filters in,
selectors out, templates render)."""
