"""GET /api/v1/analytics/health/: the health page's figures as JSON (staff and analytics keys)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics.selectors.health import TaskState, system_health


class TaskStateSerializer(serializers.Serializer):
    entry = serializers.CharField(help_text="The beat schedule's entry name.")
    task = serializers.CharField(help_text="The Celery task name.")
    schedule = serializers.CharField(help_text="Crontab fields (UTC), or every N seconds.")
    period_seconds = serializers.SerializerMethodField(
        help_text="The longest wait between two runs; null if unknown."
    )
    state = serializers.ChoiceField(
        choices=["ok", "stale", "failing"],
        help_text="failing: failed after its last success; stale: no success within twice "
        "its period (or never); ok otherwise.",
    )
    last_sent_at = serializers.DateTimeField(
        source="last_run_at", allow_null=True, help_text="When beat last sent it."
    )
    last_started_at = serializers.DateTimeField(allow_null=True)
    last_success_at = serializers.DateTimeField(allow_null=True)
    last_success_seconds = serializers.FloatField(allow_null=True)
    last_failure_at = serializers.DateTimeField(allow_null=True)
    last_failure_seconds = serializers.FloatField(allow_null=True)
    last_error = serializers.CharField(
        help_text="Exception type and message, addresses masked, at most 300 characters."
    )
    successes = serializers.IntegerField()
    failures = serializers.IntegerField()

    def get_period_seconds(self, obj: TaskState) -> int | None:
        return None if obj.period is None else int(obj.period.total_seconds())


class QueueDepthSerializer(serializers.Serializer):
    queue = serializers.CharField()
    messages = serializers.IntegerField(
        allow_null=True, help_text="Messages waiting; null when the broker does not answer."
    )


class MinuteCountSerializer(serializers.Serializer):
    minute = serializers.DateTimeField()
    events = serializers.IntegerField()

    def to_representation(self, instance: Any) -> dict[str, Any]:
        minute, events = instance
        return super().to_representation({"minute": minute, "events": events})


class IngestionSerializer(serializers.Serializer):
    last_hour = serializers.IntegerField(help_text="Events received in the last 60 minutes.")
    last_day = serializers.IntegerField(help_text="Events received in the last 24 hours.")
    per_minute_hour = serializers.FloatField()
    per_minute_day = serializers.FloatField()
    minutes = MinuteCountSerializer(many=True, help_text="The last hour, oldest minute first.")


class RunDurationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField(help_text="scoring, refresh or backfill.")
    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True, help_text="Null while running.")
    items = serializers.IntegerField(help_text="Learners scored, or days recomputed.")
    error = serializers.CharField()


class SystemHealthSerializer(serializers.Serializer):
    now = serializers.DateTimeField()
    tasks = TaskStateSerializer(many=True)
    queues = QueueDepthSerializer(many=True)
    ingestion = IngestionSerializer()
    scoring_runs = RunDurationSerializer(many=True, help_text="The latest 30, newest first.")
    aggregate_runs = RunDurationSerializer(many=True, help_text="The latest 30, newest first.")


@extend_schema(
    summary="System health",
    description=(
        "Every task on the beat schedule with its last success and failure (time, duration, "
        "error summary) and a state, the messages waiting in each Celery queue, the events "
        "received per minute over the last hour and 24 hours, and the durations of the latest "
        "scoring and aggregate runs. Platform data: a staff session or a key with the "
        "`analytics:read` scope; other users get a 403."
    ),
    responses=SystemHealthSerializer,
)
class HealthView(APIView):
    scope_read = "analytics:read"

    def get(self, request: Request) -> Response:
        return Response(SystemHealthSerializer(system_health()).data)
