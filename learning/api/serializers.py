"""Input and output shapes for the catalogue API."""

from typing import Any

from rest_framework import serializers

from core.api import BulkSerializer, ChoiceField, JSONInputSerializer
from learning.models import Course, Enrollment, Lesson, LiveSession, LiveSessionRegistration


class CourseInputSerializer(JSONInputSerializer):
    title = serializers.CharField(max_length=255, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    instructor = serializers.CharField(
        max_length=128, required=False, allow_null=True, help_text="A user's external id."
    )
    starts_on = serializers.DateField(required=False, allow_null=True)
    ends_on = serializers.DateField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        starts, ends = attrs.get("starts_on"), attrs.get("ends_on")
        if starts and ends and ends < starts:
            raise serializers.ValidationError(
                {"ends_on": ["The course cannot end before it starts."]}
            )
        return attrs


class CourseBulkItemSerializer(CourseInputSerializer):
    external_id = serializers.CharField(max_length=128)


class CourseBulkSerializer(BulkSerializer):
    item_serializer = CourseBulkItemSerializer


class CourseOutputSerializer(serializers.ModelSerializer):
    instructor = serializers.SlugRelatedField(slug_field="external_id", read_only=True)

    class Meta:
        model = Course
        fields = [
            "external_id",
            "title",
            "description",
            "instructor",
            "starts_on",
            "ends_on",
            "provisional",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class LessonInputSerializer(JSONInputSerializer):
    course = serializers.CharField(max_length=128, required=False, help_text="Course external id.")
    position = serializers.IntegerField(min_value=0, max_value=100_000, required=False)
    title = serializers.CharField(max_length=255, required=False)
    duration_seconds = serializers.IntegerField(
        min_value=0, max_value=7 * 24 * 3600, required=False, allow_null=True
    )


class LessonBulkItemSerializer(LessonInputSerializer):
    external_id = serializers.CharField(max_length=128)


class LessonBulkSerializer(BulkSerializer):
    item_serializer = LessonBulkItemSerializer


class LessonOutputSerializer(serializers.ModelSerializer):
    course = serializers.SlugRelatedField(slug_field="external_id", read_only=True)

    class Meta:
        model = Lesson
        fields = [
            "external_id",
            "course",
            "position",
            "title",
            "duration_seconds",
            "provisional",
            "updated_at",
        ]
        read_only_fields = fields


class EnrollmentInputSerializer(JSONInputSerializer):
    status = ChoiceField(choices=Enrollment.Status.choices, required=False)
    enrolled_at = serializers.DateTimeField(required=False)
    completed_at = serializers.DateTimeField(required=False, allow_null=True)
    withdrawn_at = serializers.DateTimeField(required=False, allow_null=True)


class EnrollmentBulkItemSerializer(EnrollmentInputSerializer):
    user = serializers.CharField(max_length=128, help_text="User external id.")
    course = serializers.CharField(max_length=128, help_text="Course external id.")


class EnrollmentBulkSerializer(BulkSerializer):
    item_serializer = EnrollmentBulkItemSerializer


class EnrollmentOutputSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="external_id", read_only=True)
    course = serializers.SlugRelatedField(slug_field="external_id", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "user",
            "course",
            "status",
            "enrolled_at",
            "completed_at",
            "withdrawn_at",
            "provisional",
            "updated_at",
        ]
        read_only_fields = fields


class LiveSessionInputSerializer(JSONInputSerializer):
    course = serializers.CharField(max_length=128, required=False, help_text="Course external id.")
    title = serializers.CharField(max_length=255, required=False)
    starts_at = serializers.DateTimeField(required=False)
    duration_minutes = serializers.IntegerField(min_value=1, max_value=24 * 60, required=False)
    status = ChoiceField(choices=LiveSession.Status.choices, required=False)


class LiveSessionBulkItemSerializer(LiveSessionInputSerializer):
    external_id = serializers.CharField(max_length=128)


class LiveSessionBulkSerializer(BulkSerializer):
    item_serializer = LiveSessionBulkItemSerializer


class LiveSessionOutputSerializer(serializers.ModelSerializer):
    course = serializers.SlugRelatedField(slug_field="external_id", read_only=True)

    class Meta:
        model = LiveSession
        fields = [
            "external_id",
            "course",
            "title",
            "starts_at",
            "duration_minutes",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class LiveRegistrationInputSerializer(JSONInputSerializer):
    status = ChoiceField(choices=LiveSessionRegistration.Status.choices, required=False)
    registered_at = serializers.DateTimeField(required=False)
    rescheduled_from = serializers.CharField(
        max_length=128,
        required=False,
        allow_null=True,
        help_text="External id of the live session the learner moved from.",
    )


class LiveRegistrationBulkItemSerializer(LiveRegistrationInputSerializer):
    session = serializers.CharField(max_length=128, help_text="Live session external id.")
    user = serializers.CharField(max_length=128, help_text="User external id.")


class LiveRegistrationBulkSerializer(BulkSerializer):
    item_serializer = LiveRegistrationBulkItemSerializer


class LiveRegistrationOutputSerializer(serializers.ModelSerializer):
    session = serializers.SlugRelatedField(slug_field="external_id", read_only=True)
    user = serializers.SlugRelatedField(slug_field="external_id", read_only=True)
    rescheduled_from = serializers.SlugRelatedField(slug_field="external_id", read_only=True)

    class Meta:
        model = LiveSessionRegistration
        fields = [
            "session",
            "user",
            "status",
            "registered_at",
            "rescheduled_from",
            "attended",
            "outcome_at",
            "updated_at",
        ]
        read_only_fields = fields
