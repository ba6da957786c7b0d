"""API conventions shared by every app: the error shape, pagination, filters, field types.

Every 4xx answer has the same shape::

    {"code": "invalid", "detail": "Invalid input: timezone", "fields": {"timezone": ["..."]}}

`fields` maps a field (or an item index of a bulk request) to its messages; it is empty for
errors that concern no field (authentication, permission, throttling, not found, a body that
is not JSON, too deep or too large).
"""

from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from django import forms
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import models
from django.http import Http404, QueryDict
from django_filters import fields as filter_fields
from django_filters import rest_framework as filters
from django_filters.widgets import BooleanWidget
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.bulk import UpsertResult
from core.errors import INVALID_CHOICE, DomainValidationError, invalid_choice_message


class StridePagination(PageNumberPagination):
    """Page-number pagination with a client-chosen page size (1 to 500).

    A `page` or `page_size` that is sent must be a whole number in range, or the answer is a
    400 naming it with the accepted range; never a silent default. A page past the last one is
    a 404 naming the last page: the number is well formed, but which pages exist depends on how
    many rows there are, which no schema can say (page 1 always exists, even of an empty list).
    """

    page_size_query_param = "page_size"
    max_page_size = 500
    last_page_strings = ()  # numbers only, as the schema says

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = _whole_number(raw)
        if size is None or not 1 <= size <= self.max_page_size:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"Must be a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return size

    def get_page_number(self, request: Request, paginator: Any) -> int:
        raw = request.query_params.get(self.page_query_param)
        if raw is None:
            return 1
        last = paginator.num_pages  # at least 1: the first page of an empty list exists
        number = _whole_number(raw)
        if number is None and raw.isascii() and raw.isdecimal() and raw.lstrip("0"):
            number = last + 1  # more digits than any page count has: past the last page
        if number is None or number < 1:
            message = "Must be a whole number from 1."
            raise exceptions.ValidationError({self.page_query_param: [message]})
        if number > last:
            shown = raw if len(raw) <= 30 else raw[:27] + "..."
            raise exceptions.NotFound(f"No page {shown}: the last page is {last}.")
        return number

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
            elif parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


def _whole_number(raw: str) -> int | None:
    # isdecimal() alone admits other scripts' digits; 18 digits is more than any page needs.
    if raw.isascii() and raw.isdecimal() and len(raw) <= 18:
        return int(raw)
    return None


# Python accepts UTC offsets up to ±23:59, PostgreSQL stores only ±15:59 (and real offsets stay
# within -12:00 and +14:00): beyond, a date-time is refused, as ingestion refuses such events.
MAX_UTC_OFFSET = timedelta(hours=16)


class IsoDateTimeField(filter_fields.IsoDateTimeField):
    """django-filter's ISO-8601 form field, converted to UTC and kept within storable bounds."""

    default_error_messages = {
        "offset": "The UTC offset must be between -15:59 and +15:59.",
        "overflow": "The date-time is out of range.",
    }

    def to_python(self, value: Any) -> datetime | None:
        result = super().to_python(value)
        if result is None:
            return None
        offset = result.utcoffset()
        if offset is not None and abs(offset) >= MAX_UTC_OFFSET:
            raise forms.ValidationError(self.error_messages["offset"], code="offset")
        try:
            # In UTC the database gets a value it stores whatever its own offset limits.
            return result.astimezone(UTC)
        except OverflowError as exc:  # e.g. 0001-01-01T00:00+01:00, before year 1 in UTC
            raise forms.ValidationError(self.error_messages["overflow"], code="overflow") from exc


class DateTimeFilter(filters.IsoDateTimeFilter):
    """The one date-time filter of the API (e.g. `updated_since`): ISO-8601, offset-checked."""

    field_class = IsoDateTimeField


class _BooleanWidget(BooleanWidget):
    # django-filter's widget reads any other value as "no filter": let the field refuse it.
    def value_from_datadict(self, data: Any, files: Any, name: str) -> Any:
        value = data.get(name)
        return {"true": True, "false": False}.get(value, value)


class _BooleanField(forms.NullBooleanField):
    def to_python(self, value: Any) -> bool | None:
        if isinstance(value, bool) or value is None:
            return value
        if value == "":  # an empty value means "not filtered", as for every filter
            return None
        raise forms.ValidationError("Must be true or false.", code="invalid")

    def validate(self, value: Any) -> None:
        pass


class BooleanFilter(filters.BooleanFilter):
    """A yes/no filter (e.g. `provisional`) that takes `true` or `false` and refuses others."""

    field_class = _BooleanField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", _BooleanWidget)
        super().__init__(*args, **kwargs)


class StrideFilterSet(filters.FilterSet):
    """The base of every API FilterSet: safe date-times, choice errors in the one wording.

    Declare date-time filters with `DateTimeFilter`; generated ones (`Meta.fields`) get it too.
    """

    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": DateTimeFilter},
        models.BooleanField: {"filter_class": BooleanFilter},
    }

    def get_form_class(self) -> type[forms.Form]:
        form_class = super().get_form_class()
        for field in form_class.base_fields.values():
            if isinstance(field, forms.ChoiceField):
                # Django formats the message with the value; choices are escaped for it.
                choices = ", ".join(str(key).replace("%", "%%") for key, _ in field.choices if key)
                field.error_messages["invalid_choice"] = INVALID_CHOICE.format(
                    value="%(value).40s", choices=choices
                )
        return form_class


class ChoiceField(serializers.ChoiceField):
    """DRF's ChoiceField whose error lists the accepted values, in the one wording."""

    def fail(self, key: str, **kwargs: Any) -> NoReturn:
        if key != "invalid_choice":
            super().fail(key, **kwargs)
        raise exceptions.ValidationError(
            invalid_choice_message(kwargs.get("input"), self.choices), code=key
        )


class JSONInputSerializer(serializers.Serializer):
    """The base of every input serializer of a JSON body: each value must have its field's
    JSON type, as the schema says.

    DRF itself turns `0` into "0" for a text field, "5" into 5 for an integer field and "yes"
    into true for a boolean one; an integrator whose client sends the wrong type should hear
    so rather than have it stored converted. Form data (the browsable API) is all text and
    keeps DRF's conversions.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            errors = {
                name: [message]
                for name, field in self.fields.items()
                if not field.read_only
                and (message := _json_type_error(field, data.get(field.field_name)))
            }
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)


def _json_type_error(field: serializers.Field, value: Any) -> str | None:
    """Why `value` has the wrong JSON type for `field` (in DRF's own words), or None; also
    None for absent and null values and for types DRF itself refuses as it should."""
    if value is None:
        return None
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        for index, item in enumerate(value):
            if message := _json_type_error(field.child, item):
                return f"Item {index}: {message}"
        return None
    if isinstance(field, serializers.BooleanField):
        ok = isinstance(value, bool)
    elif isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(field, serializers.FloatField | serializers.DecimalField):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif isinstance(field, serializers.CharField):
        ok = isinstance(value, str)
    else:
        return None
    return None if ok else str(field.error_messages["invalid"])


def validate_url_ids(item_serializer: type[serializers.Serializer], **ids: str) -> dict[str, Any]:
    """Check ids taken from a URL with the bulk item serializer's fields of the same names.

    A PUT then refuses what a bulk request refuses (too long, NUL characters), as a 400 naming
    the id, instead of letting the database fail on it.
    """
    fields = item_serializer().fields
    values: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for name, value in ids.items():
        try:
            values[name] = fields[name].run_validation(value)
        except exceptions.ValidationError as exc:
            errors[name] = exc.detail
    if errors:
        raise exceptions.ValidationError(errors)
    return values


def _stringify(detail: Any) -> Any:
    if isinstance(detail, list):
        return [_stringify(item) for item in detail]
    if isinstance(detail, dict):
        return {str(key): _stringify(value) for key, value in detail.items()}
    return str(detail)


def error_body(code: str, detail: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the common error body."""
    return {"code": code, "detail": detail, "fields": fields or {}}


def too_large_body() -> dict[str, Any]:
    """The error body of a request body over DATA_UPLOAD_MAX_MEMORY_SIZE (answered with 413)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_body(
        "too_large",
        f"The request body is larger than the limit of {limit:,} bytes "
        f"({limit / 2**20:.4g} MiB); send fewer items per request.",
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Turn every API error into the common shape; domain errors become 400s, or 409s when
    the object's state forbids the change (code "conflict")."""
    if isinstance(exc, RequestDataTooBig):
        # Raised by Django while DRF reads the body for the parser, inside the view: answer
        # here rather than let it escape as a "suspicious operation".
        return Response(too_large_body(), status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    if isinstance(exc, DomainValidationError):
        return Response(
            error_body(exc.code, exc.summary(), _stringify(exc.fields)),
            status=status.HTTP_409_CONFLICT
            if exc.code == "conflict"
            else status.HTTP_400_BAD_REQUEST,
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
        url_ids = validate_url_ids(
            self.bulk_serializer_class.item_serializer,  # type: ignore[attr-defined]
            external_id=kwargs[self.lookup_field],
        )
        serializer = self.input_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = {**serializer.validated_data, **url_ids}
        try:
            result = self.upsert([item])
        except DomainValidationError as exc:
            item_errors = exc.fields.get("items", {}).get("0")
            if item_errors is None:
                raise
            raise DomainValidationError(item_errors) from exc
        # Answer the stored row: the instance the upsert built carries a new instance's
        # defaults (date_joined, created_at), not what the update left in the database.
        stored = self.get_queryset().get(  # type: ignore[attr-defined]
            **{self.lookup_field: item["external_id"]}
        )
        body = self.output_serializer_class(stored).data
        return Response(body, status=status.HTTP_201_CREATED if result.created else 200)

    @action(detail=False, methods=["post"], url_path="bulk")
    def bulk(self, request: Request) -> Response:
        serializer = self.bulk_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = self.upsert(serializer.validated_data["items"])
        return Response({"created": result.created, "updated": result.updated})


class BulkSerializer(serializers.Serializer):
    """`{"items": [...]}` with at most STRIDE_BULK_MAX_ITEMS entries."""

    item_serializer: type[serializers.Serializer] = serializers.Serializer

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields["items"] = serializers.ListField(child=self.item_serializer(), allow_empty=False)
        return fields

    def to_internal_value(self, data: object) -> dict:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"items": [f'Expected an object {{"items": [...]}}; got {_json_kind(data)}.']}
            )
        items = data.get("items")
        limit = settings.STRIDE_BULK_MAX_ITEMS
        if isinstance(items, list) and len(items) > limit:
            raise serializers.ValidationError(
                {"items": [f"At most {limit} items per request; got {len(items)}."]}
            )
        return super().to_internal_value(data)


def _json_kind(value: object) -> str:
    """What a client sent, in JSON's words: "a list", "a string", ..."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else "something else"


class UpsertResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
