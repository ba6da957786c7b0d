"""GET /api/v1/analytics/forecasts/: the stored 30-day forecast of one metric for the platform
or one course, with its prediction intervals and backtest."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from analytics.api.access import AnalyticsReadView, CourseQuerySerializer
from analytics.models import Forecast
from analytics.selectors.forecasts import forecast_currencies, forecast_get

NOT_YET = (
    "No forecast stored yet: the nightly analytics run makes them once the aggregates hold "
    "14 days (python manage.py aggregate_analytics)."
)


class ForecastQuerySerializer(CourseQuerySerializer):
    metric = serializers.ChoiceField(
        choices=Forecast.Metric.choices, required=False, default=Forecast.Metric.DAU
    )
    currency = serializers.RegexField(
        r"^[A-Z]{3}$",
        required=False,
        help_text="ISO 4217 code; required for `revenue` (forecast per currency), only there.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        metric, currency = attrs["metric"], attrs.get("currency", "")
        if metric == Forecast.Metric.REVENUE and not currency:
            known = ", ".join(forecast_currencies(course=attrs.get("course"))) or "none yet"
            raise serializers.ValidationError(
                {"currency": f"Required for revenue (forecasts exist in: {known})."}
            )
        if metric != Forecast.Metric.REVENUE and currency:
            raise serializers.ValidationError(
                {"currency": "Only revenue is forecast per currency."}
            )
        return {"metric": metric, "currency": currency, "course": attrs.get("course")}


class ForecastPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    mean = serializers.FloatField(help_text="The forecast (never below 0).")
    lower_80 = serializers.FloatField()
    upper_80 = serializers.FloatField()
    lower_95 = serializers.FloatField()
    upper_95 = serializers.FloatField()


class BacktestSerializer(serializers.Serializer):
    days = serializers.IntegerField(source="backtest_days", help_text="Days held out.")
    mape = serializers.FloatField(
        source="backtest_mape",
        allow_null=True,
        help_text="Mean absolute percentage error (percent) over the held-out days that were "
        "not 0; null when all were 0.",
    )
    mape_days = serializers.IntegerField(source="backtest_mape_days")
    mae = serializers.FloatField(source="backtest_mae", help_text="Mean absolute error.")
    covered_80 = serializers.IntegerField(
        source="backtest_covered_80", help_text="Held-out days inside the 80% interval."
    )
    covered_95 = serializers.IntegerField(
        source="backtest_covered_95", help_text="Held-out days inside the 95% interval."
    )


class ForecastSerializer(serializers.Serializer):
    metric = serializers.CharField()
    currency = serializers.CharField(help_text="Empty except for revenue.")
    course = serializers.SerializerMethodField()
    origin = serializers.DateField(
        allow_null=True, help_text="The last day of the history; null before the first run."
    )
    model = serializers.CharField(help_text="The statsmodels model; empty: no forecast.")
    reason = serializers.CharField(help_text="Why there is no forecast or no backtest.")
    history_days = serializers.IntegerField()
    points = ForecastPointSerializer(many=True)
    backtest = serializers.SerializerMethodField()
    warnings = serializers.ListField(child=serializers.CharField())

    def get_course(self, forecast: Forecast) -> str | None:
        course = self.context.get("course")
        return course.external_id if course is not None else None

    @extend_schema_field(BacktestSerializer(allow_null=True))
    def get_backtest(self, forecast: Forecast) -> dict[str, Any] | None:
        if forecast.backtest_days is None:
            return None
        return BacktestSerializer(forecast).data


@extend_schema(
    summary="Forecast of a metric",
    description=(
        "The latest stored forecast of `metric` (daily active learners, enrollments, or "
        "revenue in one `currency`) for the platform or one `course`: 30 days after `origin`, "
        "each with the forecast and its 80% and 95% prediction intervals (never below 0), "
        "from a statsmodels ETS model with weekly seasonality (without it under 4 weeks of "
        "history). `backtest` scores the same model refitted without the last 14 days on "
        "them: MAPE over the days that were not 0, MAE and how many days each interval "
        "covered. Under 14 days of history `points` is empty and `reason` says why. Computed "
        "nightly; this endpoint only reads. Needs the `analytics:read` scope, or a staff "
        "session, or an instructor's session for one of their own courses. A 400 names the "
        "field when `metric` is unknown, `course` is not a course Stride knows, or "
        "`currency` is missing for revenue (or given for another metric)."
    ),
    parameters=[ForecastQuerySerializer],
    responses=ForecastSerializer,
)
class ForecastsView(AnalyticsReadView):
    def get(self, request: Request) -> Response:
        query = ForecastQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        self.check_course(request, q["course"])
        stored = forecast_get(metric=q["metric"], course=q["course"], currency=q["currency"])
        if stored is None:
            stored = Forecast(
                origin=None, metric=q["metric"], currency=q["currency"], reason=NOT_YET
            )
        return Response(ForecastSerializer(stored, context={"course": q["course"]}).data)
