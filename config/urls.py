"""Top-level URLs: admin, pages, the API under /api/v1/ with its schema and docs, health."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerSplitView,
)

from campaigns.views_effectiveness import effectiveness_page
from core.api_root import ApiRootView
from core.health import healthz

api_v1 = [
    path("", ApiRootView.as_view(), name="api-root"),
    path("", include("accounts.api.urls")),
    path("", include("learning.api.urls")),
    path("", include("gamification.api.urls")),
    path("", include("engagement.api.urls")),
    path("", include("interventions.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("video.api.urls")),
    path("", include("analytics.api.urls")),
]

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("me/videos/", include("video.urls")),
    path("me/", include("gamification.urls")),
    path("video/", include("video.urls_media")),
    path("", include("interventions.urls")),
    # Analytics will own /dashboard/ itself; until then it opens the engagement dashboard.
    path("dashboard/", RedirectView.as_view(url="/dashboard/engagement/"), name="dashboard"),
    path("dashboard/engagement/", include("engagement.urls")),
    path("dashboard/effectiveness/", effectiveness_page, name="effectiveness"),
    path("dashboard/campaigns/", include("campaigns.urls")),
    path("dashboard/experiments/", include("campaigns.urls_experiments")),
    path("dashboard/videos/", include("video.urls_dashboard")),
    path("dashboard/analytics/", include("analytics.urls")),
    path("dashboard/insights/", include("analytics.urls_insights")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file of its own (?script), so
    # the page needs no inline script under the Content-Security-Policy.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("healthz", healthz, name="healthz"),
    # ESP tracking webhooks (anymail; HTTP basic auth from ANYMAIL_WEBHOOK_SECRET), e.g.
    # /webhooks/anymail/amazon_ses/tracking/ for SES events over SNS.
    path("webhooks/anymail/", include("anymail.urls")),
]

# Errors that never reach a view's own handling: JSON under /api/, styled pages elsewhere.
handler400 = "core.errorviews.bad_request"
handler403 = "core.errorviews.permission_denied"
handler404 = "core.errorviews.page_not_found"
handler500 = "core.errorviews.server_error"

admin.site.site_header = "Stride administration"
admin.site.site_title = "Stride"
