"""Top-level URLs: admin, pages, the API under /api/v1/ with its schema and docs, health."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView, TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.health import healthz

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("learning.api.urls")),
    path("", include("engagement.api.urls")),
]

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    # Analytics will own /dashboard/ itself; until then it opens the engagement dashboard.
    path("dashboard/", RedirectView.as_view(url="/dashboard/engagement/"), name="dashboard"),
    path("dashboard/engagement/", include("engagement.urls")),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("healthz", healthz, name="healthz"),
]

admin.site.site_header = "Stride administration"
admin.site.site_title = "Stride"
