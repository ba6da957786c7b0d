"""Experiments API: list, create, read and edit experiments by key, start and stop them, the
assignment an integrator's platform asks for (logged as an exposure), and the results.

Scopes `experiments:read` and `experiments:write`, or a staff session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from accounts.selectors import user_ids_by_external_id
from campaigns.models import Experiment
from campaigns.selectors.experiments import experiment_list
from campaigns.services import experiments as services
from core.api import JSONInputSerializer
from core.errors import DomainValidationError
from core.parsers import StrideJSONParser

READ = "experiments:read"
WRITE = "experiments:write"
METRIC_HELP = (
    '`{"kind": "binomial", "event": "lesson_completed", "window_days": 7}`, `{"kind": '
    '"binomial", "measure": "retained" | "opened" | "clicked" | "converted" | '
    '"unsubscribed"}` or `{"kind": "continuous", "event": "<type>", "window_days": 14}`; '
    'optional `"name"` and `"lower_is_better"`.'
)
_ERRORS = {
    400: OpenApiResponse(description="A mistake in the body, named by its path."),
    404: OpenApiResponse(description="No such experiment."),
    409: OpenApiResponse(description="Its status does not allow it."),
}


class ExperimentInputSerializer(serializers.Serializer):
    key = serializers.SlugField(max_length=80)
    name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    hypothesis = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    kind = serializers.ChoiceField(choices=Experiment.Kind.choices, required=False)
    template = serializers.CharField(
        max_length=80, required=False, help_text="Template experiments: the template's slug."
    )
    campaign = serializers.IntegerField(
        required=False, help_text="Campaign experiments: the campaign's id."
    )
    rule = serializers.IntegerField(
        required=False, help_text="Rule experiments: the automated rule's id."
    )
    variants = serializers.JSONField(
        help_text='[{"key": "control", "weight": 50}, {"key": "b", "weight": 50}]: the first '
        'is the control; template experiments name each one\'s `"variant"`, campaign '
        'and rule experiments each arm\'s `"template"` (a slug).'
    )
    primary_metric = serializers.JSONField(help_text=METRIC_HELP)
    secondary_metrics = serializers.JSONField(required=False, help_text="A list of metrics.")
    guardrail_metrics = serializers.JSONField(required=False, help_text="A list of metrics.")
    auto_winner = serializers.BooleanField(required=False)


class ExperimentPatchSerializer(ExperimentInputSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        return fields


class ExperimentOutputSerializer(serializers.ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Experiment
        fields = [
            "key",
            "name",
            "hypothesis",
            "kind",
            "template",
            "campaign",
            "rule",
            "variants",
            "primary_metric",
            "secondary_metrics",
            "guardrail_metrics",
            "status",
            "auto_winner",
            "started_at",
            "stopped_at",
            "winner",
            "decision",
            "decided_at",
            "created_at",
        ]


class StopInputSerializer(JSONInputSerializer):
    winner = serializers.CharField(max_length=40, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class AssignmentSerializer(serializers.Serializer):
    experiment = serializers.CharField()
    user = serializers.CharField()
    variant = serializers.CharField()


class VariantResultSerializer(serializers.Serializer):
    key = serializers.CharField()
    users = serializers.IntegerField()
    conversions = serializers.IntegerField(required=False, help_text="Binomial metrics.")
    rate = serializers.FloatField(required=False, allow_null=True)
    mean = serializers.FloatField(required=False, allow_null=True, help_text="Continuous.")
    uplift = serializers.FloatField(required=False, allow_null=True, help_text="Relative.")
    ci = serializers.ListField(child=serializers.FloatField(allow_null=True), required=False)
    p_value = serializers.FloatField(required=False, allow_null=True)
    sequential_ci = serializers.ListField(
        child=serializers.FloatField(allow_null=True), required=False
    )
    sequential_p_value = serializers.FloatField(required=False, allow_null=True)
    chance_to_win = serializers.FloatField(required=False, allow_null=True)
    risk = serializers.FloatField(required=False, allow_null=True)


class MetricResultSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    lower_is_better = serializers.BooleanField()
    variance_reduction = serializers.FloatField(allow_null=True)
    variants = VariantResultSerializer(many=True)


class ResultsSerializer(serializers.Serializer):
    experiment = serializers.CharField()
    status = serializers.CharField()
    users = serializers.DictField(child=serializers.IntegerField())
    srm_p_value = serializers.FloatField()
    srm_flagged = serializers.BooleanField()
    multiple_exposures = serializers.IntegerField()
    runtime_days = serializers.FloatField()
    variants = VariantResultSerializer(many=True, help_text="The primary metric per variant.")
    primary = MetricResultSerializer()
    secondary = MetricResultSerializer(many=True)
    guardrails = MetricResultSerializer(many=True)
    decision = serializers.DictField()


def _actor(request: Request) -> User | None:
    return request.user if isinstance(request.user, User) else None


def _body(request: Request) -> Any:
    return request.data if isinstance(request.data, dict) else request.data or None


def _state_schema(verb: str, text: str) -> Any:
    return extend_schema(
        operation_id=f"experiments_{verb}",
        summary=f"{verb.capitalize()} an experiment",
        description=f"{text} Needs the `{WRITE}` scope.",
        request=StopInputSerializer if verb == "stop" else None,
        responses={200: ExperimentOutputSerializer, **_ERRORS},
    )


@extend_schema_view(
    list=extend_schema(
        summary="List experiments",
        description=f"Newest first, with their status and decision. Needs the `{READ}` scope.",
    ),
    retrieve=extend_schema(
        summary="Read an experiment",
        description=f"Its design, status and decision, by key. Needs the `{READ}` scope.",
    ),
    create=extend_schema(
        summary="Create an experiment (a draft)",
        description="Takes at least `key`, `variants` (the first is the control) and "
        "`primary_metric`; `kind` is `platform` (assign through the `assignment` endpoint) "
        "or `template` (a template's variants; sends are the exposures). Start it to begin. "
        f"Needs the `{WRITE}` scope.",
        request=ExperimentInputSerializer,
        responses={201: ExperimentOutputSerializer, 400: _ERRORS[400]},
        examples=[
            OpenApiExample(
                "Platform",
                request_only=True,
                value={
                    "key": "checkout-copy",
                    "variants": [{"key": "control", "weight": 50}, {"key": "b", "weight": 50}],
                    "primary_metric": {
                        "kind": "binomial",
                        "event": "lesson_completed",
                        "window_days": 7,
                    },
                    "guardrail_metrics": [
                        {"kind": "binomial", "measure": "unsubscribed", "lower_is_better": True}
                    ],
                },
            )
        ],
    ),
    partial_update=extend_schema(
        summary="Edit an experiment",
        description="A draft may change anything; a started one only its name, hypothesis, "
        f"secondary and guardrail metrics and `auto_winner` (else 409). Needs `{WRITE}`.",
        request=ExperimentPatchSerializer,
        responses={200: ExperimentOutputSerializer, **_ERRORS},
    ),
    start=_state_schema("start", "Begin assigning and logging exposures."),
    stop=_state_schema(
        "stop", "Stop it; with `winner` (a variant key) and `reason`, record the decision."
    ),
    assignment=extend_schema(
        summary="Assign a learner to a variant",
        description="The learner's variant (deterministic and sticky), logged as an exposure: "
        "call it when your platform shows the variant. After a decision, new learners get "
        f"the winner. Needs the `{READ}` scope.",
        parameters=[
            OpenApiParameter("user", str, required=True, description="The learner's external id.")
        ],
        responses={200: AssignmentSerializer, **_ERRORS},
    ),
    results=extend_schema(
        summary="Read an experiment's results",
        description="Per variant: users, conversions (binomial) or mean (continuous), and for "
        "treatments the relative uplift with its interval and p-value (fixed horizon and "
        "sequential), chance to win and risk; the sample ratio check, learners exposed to "
        f"more than one variant (left out), and the decision rule's status. Needs `{READ}`.",
        responses={200: ResultsSerializer, 404: _ERRORS[404]},
    ),
)
class ExperimentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ExperimentOutputSerializer
    parser_classes = [StrideJSONParser]
    lookup_field = "key"
    lookup_value_regex = "[-a-z0-9_]+"
    scope_read = READ
    scope_write = WRITE
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Experiment]:
        return experiment_list().order_by("-created_at", "-id")

    def _answer(self, experiment: Experiment, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(experiment_list().get(pk=experiment.pk)).data, code)

    def create(self, request: Request) -> Response:
        experiment = services.experiment_create(spec=_body(request), actor=_actor(request))
        return self._answer(experiment, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        experiment = services.experiment_update(
            experiment=self.get_object(), spec=_body(request), actor=_actor(request)
        )
        return self._answer(experiment)

    @action(detail=True, methods=["post"])
    def start(self, request: Request, key: str | None = None) -> Response:
        return self._answer(
            services.experiment_start(experiment=self.get_object(), actor=_actor(request))
        )

    @action(detail=True, methods=["post"])
    def stop(self, request: Request, key: str | None = None) -> Response:
        if not isinstance(request.data, Mapping):  # an empty body parses as {}; `null` as None
            raise DomainValidationError("Give an object, or no body.")
        body = StopInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        experiment = services.experiment_stop(
            experiment=self.get_object(),
            actor=_actor(request),
            winner=body.validated_data.get("winner", ""),
            reason=body.validated_data.get("reason", ""),
        )
        return self._answer(experiment)

    @action(detail=True, methods=["get"])
    def assignment(self, request: Request, key: str | None = None) -> Response:
        experiment = self.get_object()
        external = request.query_params.get("user", "").strip()
        if not external:
            raise DomainValidationError({"user": "Give the learner's external id."})
        if "\x00" in external or len(external) > 128:
            raise DomainValidationError(
                {"user": "An external id has at most 128 characters and no NUL character."}
            )
        found = user_ids_by_external_id(external_ids=[external])
        if external not in found:
            raise DomainValidationError({"user": f"No learner {external!r}."})
        user = User.objects.get(pk=found[external])
        variant = services.assignment_get(experiment=experiment, user=user)
        return Response({"experiment": experiment.key, "user": external, "variant": variant})

    @action(detail=True, methods=["get"])
    def results(self, request: Request, key: str | None = None) -> Response:
        results = services.experiment_decide(experiment=self.get_object())
        primary = asdict(results.primary)
        return Response(
            {
                "experiment": results.experiment.key,
                "status": results.experiment.status,
                "users": results.users,
                "srm_p_value": results.srm_p_value,
                "srm_flagged": results.srm_flagged,
                "multiple_exposures": results.multiple_exposures,
                "runtime_days": results.runtime_days,
                "variants": primary["variants"],
                "primary": primary,
                "secondary": [asdict(m) for m in results.secondary],
                "guardrails": [asdict(m) for m in results.guardrails],
                "decision": {
                    "status": results.decision_status,
                    "winner": results.experiment.winner or None,
                    "rule_winner": results.decision_winner,
                    "reasons": results.decision_reasons,
                    "decided_at": results.experiment.decided_at,
                    "decision": results.experiment.decision,
                },
            }
        )
