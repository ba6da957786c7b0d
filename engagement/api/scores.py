# PLACEHOLDER (being written by the scoring helper): replace entirely.
from rest_framework.views import APIView


class ScoreListView(APIView):
    scope_read = "scores:read"
