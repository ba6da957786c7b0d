"""Campaigns' API routes, mounted under /api/v1/ in config/urls.py."""

from rest_framework.routers import SimpleRouter

from campaigns.api.views import CampaignViewSet, SegmentViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("segments", SegmentViewSet, basename="segment")

urlpatterns = router.urls
