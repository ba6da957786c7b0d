"""OpenAPI conventions for every API view (drf-spectacular), so that the schema says what the
API really does and new endpoints follow without repeating anything.

- Every operation documents the error answers any request may get (400, 401, 403, 404, 413,
  429), all in the one error shape of `core.api.error_body`, the `Error` component.
- Descriptions never fall back to docstrings: those are written for developers. Each operation
  sets its summary and description with `extend_schema`; a test walks the schema for them.
- Fields say what answers hold: stored email addresses may be internationalised
  (`idn-email`); a relation through a nullable foreign key may be null; a list that may not be
  empty has `minItems: 1`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from drf_spectacular.drainage import get_override
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import permissions, serializers

from core.api import DateTimeFilter

ERROR_REF = {"$ref": "#/components/schemas/Error"}

# The date-times the API takes (`occurred_at`, the `*_since` filters) within RFC 3339's: seconds
# 0-59 and a UTC offset within ±15:59, the most PostgreSQL stores (real ones lie within
# -12:00 and +14:00).
DATE_TIME_PATTERN = (
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:[0-5]\d(\.\d+)?(Z|[+-](0\d|1[0-5]):[0-5]\d)$"
)

# Written by hand: `fields` nests for bulk requests ({"items": {"3": {"email": [...]}}}), which
# a serializer cannot describe.
ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": (
            "The one shape of every error answer. `fields` names each offending field "
            "with its messages; it is empty when no field is at fault."
        ),
        "properties": {
            "code": {
                "type": "string",
                "description": (
                    "What went wrong, for programs: `invalid`, `not_authenticated`, "
                    "`authentication_failed`, `permission_denied`, `not_found`, "
                    "`throttled`, ..."
                ),
            },
            "detail": {"type": "string", "description": "The same, in one line for people."},
            "fields": {"$ref": "#/components/schemas/FieldErrors"},
        },
        "required": ["code", "detail", "fields"],
    },
    "FieldErrors": {
        "type": "object",
        "description": (
            "Messages by field name; for a bulk request, by item index under `items` "
            '(`{"items": {"3": {"email": ["..."]}}}`).'
        ),
        "additionalProperties": {
            "anyOf": [
                {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            {"type": "string"},
                            {"$ref": "#/components/schemas/FieldErrors"},
                        ]
                    },
                },
                {"$ref": "#/components/schemas/FieldErrors"},
            ]
        },
    },
}


def add_error_components(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Postprocessing hook: the `Error` component every operation's error answers refer to."""
    result.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_SCHEMAS)
    return result


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": ERROR_REF}},
        **extra,
    }


NO_NUL_PATTERN = r"^[^\x00]*$"


class StrideAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with the error answers and no docstring descriptions."""

    def get_description(self) -> str:  # type: ignore[override]
        # Docstrings explain the code to developers; integrators get `extend_schema` texts.
        return ""

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        # Components too: a serializer's docstring is for developers, not integrators.
        if get_override(serializer, "description", None) is None:
            schema.pop("description", None)
        return schema

    def get_operation(self, *args: Any, **kwargs: Any) -> dict[str, Any] | None:
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        # django-filter and DRF read an optional query parameter sent empty (`?role=`) as one
        # not sent; pagination alone refuses it.
        paginator = self._get_paginator()
        paging = {
            getattr(paginator, "page_query_param", None),
            getattr(paginator, "page_size_query_param", None),
        }
        filterset = getattr(self.view, "filterset_class", None)
        filters = filterset.base_filters if filterset is not None else {}
        for parameter in operation.get("parameters", []):
            if parameter["in"] != "query":
                continue
            if not parameter.get("required") and parameter["name"] not in paging:
                parameter["allowEmptyValue"] = True
            schema = parameter["schema"]
            if isinstance(filters.get(parameter["name"]), DateTimeFilter):
                schema["pattern"] = DATE_TIME_PATTERN
            elif schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema):
                # Text filters refuse NUL (no stored text can hold one); say so.
                schema["pattern"] = NO_NUL_PATTERN
        responses = operation["responses"]
        for code, response in self._error_responses().items():
            documented = responses.setdefault(code, response)
            # An operation may word an error itself; the body is still the one shape.
            documented.setdefault("content", response["content"])
        return operation

    def _error_responses(self) -> dict[str, dict[str, Any]]:
        safe = self.method in permissions.SAFE_METHODS
        scope = getattr(self.view, "scope_read" if safe else "scope_write", None)
        needs = f"the `{scope}` scope" if scope else "access to this operation"
        return {
            "400": _error(
                "Invalid input: `fields` names each offending field or query parameter and why "
                "(for a bulk request, by item index under `items`)."
            ),
            "401": _error("No credentials, or an unknown or revoked API key."),
            "403": _error(f"The credentials do not grant {needs}."),
            "404": _error("Not found: nothing has the id given in the path."),
            "413": _error("The request body is larger than the API accepts."),
            "429": _error(
                "Too many requests for these credentials; try again later.",
                headers={
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait before the next request.",
                    }
                },
            ),
        }


class IdnEmailFieldExtension(OpenApiSerializerFieldExtension):
    """Stored addresses may hold non-ASCII letters (`mateo.müller@…`): answers say `idn-email`."""

    target_class = "rest_framework.serializers.EmailField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "response" and schema.get("format") == "email":
            schema["format"] = "idn-email"
        return schema


class NonEmptyListFieldExtension(OpenApiSerializerFieldExtension):
    """A ListField that refuses an empty list says so (`minItems: 1`)."""

    target_class = "rest_framework.serializers.ListField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if not self.target.allow_empty:
            schema["minItems"] = max(schema.get("minItems", 0), 1)
        return schema


def _through_nullable_relation(field: serializers.Field) -> bool:
    """Whether the model attribute behind `field` (e.g. `course` or `user.course`) may be
    null: DRF then answers null, whatever the field's own `allow_null` says."""
    parent = field.parent
    model = getattr(getattr(parent, "Meta", None), "model", None)
    for attr in getattr(field, "source_attrs", None) or [field.source]:
        if model is None:
            return False
        try:
            model_field = model._meta.get_field(attr)
        except FieldDoesNotExist:
            return False
        if model_field.null:
            return True
        model = getattr(model_field, "related_model", None)
    return False


class NullableRelationFieldExtension(OpenApiSerializerFieldExtension):
    """A related field over a nullable foreign key (e.g. an alert's `course`) may be null."""

    target_class = "rest_framework.relations.RelatedField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "response" and _through_nullable_relation(self.target):
            schema["nullable"] = True
        return schema
