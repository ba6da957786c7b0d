"""API conventions shared by every app: the error shape and pagination.

Every 4xx answer has the same shape::

    {"code": "invalid", "detail": "Invalid input: timezone", "fields": {"timezone": ["..."]}}

`fields` maps a field (or an item index of a bulk request) to its messages; it is empty for
errors that concern no field (authentication, permission, throttling, not found).
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainValidationError
from config.upsert import UpsertResult


class StridePagination(PageNumberPagination):
    """Page-number pagination with a client-chosen page size (at most 500)."""

    page_size_query_param = "page_size"
    max_page_size = 500


def _stringify(detail: Any) -> Any:
    if isinstance(detail, list):
        return [_stringify(item) for item in detail]
    if isinstance(detail, dict):
        return {str(key): _stringify(value) for key, value in detail.items()}
    return str(detail)


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the common error body."""
    return {"code": code, "detail": detail, "fields": fields or {}}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn every API error into the common shape; domain errors become 400s."""
    if isinstance(exc, DomainValidationError):
        return Response(
            error_body(exc.code, exc.summary(), _stringify(exc.fields)),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        fields = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        fields = _stringify(fields)
        response.data = error_body("invalid", "Invalid input: " + ", ".join(sorted(fields)), fields)
    else:
        codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = codes if isinstance(codes, str) else "error"
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = error_body(code, str(detail))
    return response


class UpsertViewSetMixin:
    """PUT /<resource>/{external_id}/ and POST /<resource>/bulk/ for natural-key upserts.

    The viewset supplies `input_serializer_class` (one item, external id from the URL),
    `bulk_serializer_class` (`{"items": [...]}`), `output_serializer_class` and
    `upsert(items) -> UpsertResult`, a service call. Errors of a single PUT are reported on
    the item's own fields; those of a bulk request under `items` by index.
    """

    lookup_field = "external_id"
    lookup_value_regex = r"[^/]+"
    input_serializer_class: type[serializers.Serializer]
    bulk_serializer_class: type[serializers.Serializer]
    output_serializer_class: type[serializers.Serializer]

    def upsert(self, items: list[dict[str, Any]]) -> UpsertResult:  # pragma: no cover
        raise NotImplementedError

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.input_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = {**serializer.validated_data, "external_id": kwargs[self.lookup_field]}
        try:
            result = self.upsert([item])
        except DomainValidationError as exc:
            item_errors = exc.fields.get("items", {}).get("0")
            if item_errors is None:
                raise
            raise DomainValidationError(item_errors) from exc
        body = self.output_serializer_class(result.objects[0]).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else 200)

    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        serializer = self.bulk_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = self.upsert(serializer.validated_data["items"])
        return Response({"created": result.created, "updated": result.updated})
