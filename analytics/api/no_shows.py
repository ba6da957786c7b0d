"""GET /api/v1/analytics/no-shows/: upcoming live-session registrations with their predicted
no-show probability, its source (baseline or model) and reasons, and the model card."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api.access import AnalyticsReadView, CourseQuerySerializer
from analytics.selectors.no_show import no_show_model_card, predicted_rows, prediction_source
from analytics.services.no_show import PREDICT_HOURS
from learning.models import Course


class NoShowQuerySerializer(CourseQuerySerializer):
    course = serializers.CharField(
        max_length=128, required=False, help_text="A course's external id; all courses if absent."
    )


class MetricsSerializer(serializers.Serializer):
    auc = serializers.FloatField(allow_null=True, help_text="ROC AUC on the held-out sessions.")
    log_loss = serializers.FloatField(allow_null=True)


class ModelCardSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    trained_at = serializers.DateTimeField()
    in_use = serializers.BooleanField(help_text="Whether it beat the baseline and is used.")
    note = serializers.CharField()
    n_outcomes = serializers.IntegerField()
    n_no_shows = serializers.IntegerField()
    n_train = serializers.IntegerField()
    n_holdout = serializers.IntegerField()
    model = MetricsSerializer()
    baseline = MetricsSerializer()


class NoShowRowSerializer(serializers.Serializer):
    session = serializers.CharField(help_text="The live session's external id.")
    session_title = serializers.CharField()
    course = serializers.CharField(help_text="The course's external id.")
    starts_at = serializers.DateTimeField()
    user = serializers.CharField(help_text="The learner's external id.")
    probability = serializers.FloatField(help_text="No-show probability, 0 to 1.")
    source = serializers.ChoiceField(choices=["baseline", "model"])
    reasons = serializers.ListField(child=serializers.CharField())
    predicted_at = serializers.DateTimeField()


class NoShowsSerializer(serializers.Serializer):
    source = serializers.ChoiceField(
        choices=["baseline", "model"], help_text="What predictions are made with now."
    )
    model = ModelCardSerializer(allow_null=True, help_text="The latest training attempt.")
    results = NoShowRowSerializer(many=True, help_text="Riskiest first.")


def _body(course: Course | None) -> dict[str, Any]:
    card = no_show_model_card()
    rows = [
        {
            "session": row.session.external_id,
            "session_title": row.session.title,
            "course": row.session.course_external_id,
            "starts_at": row.session.starts_at,
            "user": row.registration.user_external_id,
            "probability": row.registration.probability,
            "source": row.registration.source,
            "reasons": row.registration.reasons,
            "predicted_at": row.registration.predicted_at,
        }
        for row in predicted_rows(now=timezone.now(), course=course, days=PREDICT_HOURS // 24)
    ]
    model = None
    if card is not None:
        model = {
            "version": card.version,
            "trained_at": card.trained_at,
            "in_use": card.in_use,
            "note": card.note,
            "n_outcomes": card.n_outcomes,
            "n_no_shows": card.n_no_shows,
            "n_train": card.n_train,
            "n_holdout": card.n_holdout,
            "model": {"auc": card.model_auc, "log_loss": card.model_log_loss},
            "baseline": {"auc": card.baseline_auc, "log_loss": card.baseline_log_loss},
        }
    return {"source": prediction_source(card), "model": model, "results": rows}


@extend_schema(
    summary="Predicted no-shows of upcoming live sessions",
    description=(
        f"Every registration for a scheduled live session in the next {PREDICT_HOURS} hours "
        "(of one `course`, or all), riskiest first, with its no-show probability, whether the "
        "weighted baseline or the trained model made it, and the reasons in plain words. "
        "Recomputed hourly. `model` is the latest training attempt: its held-out ROC AUC and "
        "log loss against the baseline's, and whether it is used. Needs the `analytics:read` "
        "scope, or a staff session, or an instructor's session for one of their own courses. "
        "A 400 names `course` when it is not a course Stride knows."
    ),
    parameters=[NoShowQuerySerializer],
    responses=NoShowsSerializer,
)
class NoShowsView(AnalyticsReadView):
    def get(self, request: Request) -> Response:
        query = NoShowQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        course = query.validated_data.get("course")
        self.check_course(request, course)
        return Response(NoShowsSerializer(_body(course)).data)
