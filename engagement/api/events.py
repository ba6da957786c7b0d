# PLACEHOLDER (being written by the ingestion helper): replace entirely.
from rest_framework.views import APIView


class EventIngestView(APIView):
    scope_write = "events:write"
