"""Input and output shapes for the users API."""

import zoneinfo

from django.conf import settings
from rest_framework import serializers

from accounts.models import User

TIMEZONE_HELP = "IANA timezone name, e.g. 'Europe/Berlin'."


def validate_timezone_name(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise serializers.ValidationError(
            f"'{value}' is not a known IANA timezone (e.g. 'Europe/Berlin')."
        )
    return value


class UserInputSerializer(serializers.Serializer):
    """A user as the integrator sends it; the external id comes from the URL."""

    email = serializers.EmailField(max_length=254, required=False)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True)
    role = serializers.ChoiceField(choices=User.Role.choices, required=False)
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
        items = data.get("items") if isinstance(data, dict) else None
        limit = settings.STRIDE_BULK_MAX_ITEMS
        if isinstance(items, list) and len(items) > limit:
            raise serializers.ValidationError(
                {"items": [f"At most {limit} items per request; got {len(items)}."]}
            )
        return super().to_internal_value(data)


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
