# PLACEHOLDER (being written by the dashboard helper): replace entirely.
from rest_framework.views import APIView


class AtRiskView(APIView):
    scope_read = "scores:read"
