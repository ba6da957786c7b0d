"""Server-rendered campaign pages under /dashboard/campaigns/."""
