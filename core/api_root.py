"""`GET /api/v1/`: the index of the API's resources, so that integrators can discover them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.views import APIView

# Index key -> URL name. Every collection endpoint under /api/v1/ belongs here (a test compares
# this list with the schema): add yours when you add an endpoint. Actions on a collection (bulk
# writes, a segment preview, the filter fields) are documented with it and not listed: a link
# such as /segments/preview/ reads like /segments/{id}/ to a client that follows the index.
RESOURCES: dict[str, str] = {
    "users": "user-list",
    "courses": "course-list",
    "lessons": "lesson-list",
    "enrollments": "enrollment-list",
    "live-sessions": "live-session-list",
    "live-session-registrations": "live-registration-list",
    "events": "event-ingest",
    "events/types": "event-type-list",
    "engagement/scores": "score-list",
    "engagement/at-risk": "at-risk",
    "engagement/alerts": "alert-list",
    "me/gamification": "me-gamification",
    "xp/awards": "xp-award",
    "interventions": "interventions",
    "interventions/stats": "intervention-stats",
    "interventions/conversions": "intervention-conversions",
    "me/notifications": "me-notifications",
    "me/notifications/read": "me-notifications-read",
    "me/push-subscriptions": "me-push-subscriptions",
    "me/push-subscriptions/remove": "me-push-subscriptions-remove",
    "campaigns": "campaign-list",
    "segments": "segment-list",
    "experiments": "experiment-list",
    "analytics/engagement": "analytics-engagement",
    "analytics/funnels": "analytics-funnels",
    "analytics/courses": "analytics-courses",
    "analytics/instructors": "analytics-instructors",
    "analytics/revenue": "analytics-revenue",
    "analytics/forecasts": "analytics-forecasts",
    "analytics/trends": "analytics-trends",
    "analytics/no-shows": "analytics-no-shows",
    "analytics/health": "analytics-health",
    "analytics/cohorts": "analytics-cohorts",
    "analytics/lifecycle": "analytics-lifecycle",
    "analytics/performers": "analytics-performers",
    "analytics/first-week": "analytics-first-week",
    "analytics/insights": "analytics-insights",
}


class ApiRootSerializer(serializers.Serializer):
    """The absolute URL of each resource, keyed by its path under /api/v1/."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {key: serializers.URLField() for key in RESOURCES}


class ApiRootView(APIView):
    """The API's resources and their URLs; public, like the schema and the docs."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="api_root",
        summary="List the API's resources",
        description=(
            "The absolute URL of every resource of version 1 of the API, keyed by its path. "
            "The full description of each is in the OpenAPI schema at `/api/schema/`."
        ),
        responses=ApiRootSerializer,
        tags=["api"],
    )
    def get(self, request: Request) -> Response:
        return Response({key: reverse(name, request=request) for key, name in RESOURCES.items()})
