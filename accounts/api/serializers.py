"""Input and output shapes for the users API."""

import zoneinfo

from rest_framework import serializers

from accounts.models import User
from core.api import BulkSerializer, ChoiceField, JSONInputSerializer

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


class SignInLinkInputSerializer(JSONInputSerializer):
    next = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="Where the student lands after signing in: a path on Stride such as "
        "'/me/'. Their home when left out.",
    )


class SignInLinkOutputSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Open it in the student's browser; it works once.")
    expires_at = serializers.DateTimeField()
