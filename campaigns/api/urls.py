"""Campaigns' API routes, mounted under /api/v1/ in config/urls.py."""

from rest_framework.routers import SimpleRouter

from campaigns.api.experiments import ExperimentViewSet
from campaigns.api.views import CampaignViewSet, SegmentViewSet

router = SimpleRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("segments", SegmentViewSet, basename="segment")
router.register("experiments", ExperimentViewSet, basename="experiment")

urlpatterns = router.urls
