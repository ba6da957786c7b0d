"""The demo's staff reports: the demo admin gets both (so `make run` shows them subscribed)."""

from __future__ import annotations

from django.conf import settings

from accounts.models import User
from analytics.models import ReportKind
from analytics.services.reports import report_subscription_set


def demo_reports_subscribe() -> int:
    """Subscribe the demo admin (STRIDE_DEMO_ADMIN_EMAIL, when they exist as active staff) to
    every staff report; return how many subscriptions they have. A rerun changes nothing."""
    admin = User.objects.filter(
        email=settings.STRIDE_DEMO_ADMIN_EMAIL, is_staff=True, is_active=True
    ).first()
    if admin is None:
        return 0
    for kind in ReportKind.values:
        report_subscription_set(user=admin, kind=kind, active=True)
    return len(ReportKind.values)
