"""Input and output shapes for the users API."""

import zoneinfo

from django.conf import settings
from rest_framework import serializers

from accounts.models import User
from config.api import ChoiceField, JSONInputSerializer

TIMEZONE_HELP = "IANA timezone name, e.g. 'Europe/Berlin'."


def validate_timezone_name(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise serializers.ValidationError(
            f"'{value}' is not a known IANA timezone (e.g. 'Europe/Berlin')."
        )
    return value


class UserInputSerializer(JSONInputSerializer):
    """A user as the integrator sends it; the external id comes from the URL."""

    email = serializers.EmailField(max_length=254, required=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    role = ChoiceField(choices=User.Role.choices, required=False)
    timezone = serializers.CharField(
        max_length=64, required=False, help_text=TIMEZONE_HELP, validators=[validate_timezone_name]
    )


class UserBulkItemSerializer(UserInputSerializer):
    external_id = serializers.CharField(max_length=128)


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


class UserBulkSerializer(BulkSerializer):
    item_serializer = UserBulkItemSerializer


class UserOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = [
            "external_id",
            "email",
            "first_name",
            "last_name",
            "role",
            "timezone",
            "provisional",
            "date_joined",
            "updated_at",
        ]
        read_only_fields = fields


class UpsertResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
