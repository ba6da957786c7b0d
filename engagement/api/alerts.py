# PLACEHOLDER (being written by the alerts helper): replace entirely.
from rest_framework import viewsets


class AlertViewSet(viewsets.GenericViewSet):
    scope_read = "scores:read"
