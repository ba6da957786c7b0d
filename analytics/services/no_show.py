"""No-show prediction for upcoming live sessions: features from the learners' registration
history, the weighted baseline or the trained model (analytics.no_show_model), stored
predictions with their reasons, the alert, and the reminder a staff-made template sends.

- `no_shows_predict` (hourly, and `manage.py predict_no_shows`): every registration for a
  scheduled session in the next `PREDICT_HOURS` gets a probability, upserted (one row per
  registration, so reruns overwrite). Those at or above the `no_show_risk` alert rule's
  `min_probability` raise that alert (de-duplicated by engagement's constraint) and, when the
  template `STRIDE_NO_SHOW_REMINDER_TEMPLATE` exists and is active, are sent it once when the
  session is less than `STRIDE_NO_SHOW_REMINDER_HOURS` away (one delivery per learner and
  session: its source names the session).
- `no_show_model_train` (weekly, and `predict_no_shows --train`): one training attempt on the
  past sessions, stored as a `NoShowModel` card whether or not it beats the baseline.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from analytics import no_show_model as core
from analytics.models import NoShowModel, NoShowPrediction
from analytics.selectors.no_show import prediction_source
from core.localtime import local_hour
from engagement.models import AlertRule
from engagement.selectors.alerts import AlertCandidate
from engagement.selectors.scores import current_scores_of
from engagement.services.alerts import alert_rule_params_for, alerts_raise
from interventions.selectors.templates import template_get
from interventions.services.deliveries import deliveries_queue
from learning.models import LiveSession, LiveSessionRegistration

logger = logging.getLogger(__name__)

PREDICT_HOURS = 48
ALERT_CODE = AlertRule.Code.NO_SHOW_RISK
REMINDER_SOURCE = "no_show:session:{session_id}"

_FIELDS = (
    "id",
    "user_id",
    "session_id",
    "session__starts_at",
    "registered_at",
    "status",
    "attended",
    "rescheduled_from_id",
    "user__timezone",
    "session__course_id",
    "session__title",
)


@dataclass(frozen=True)
class _Row:
    reg: core.Registration
    course_id: int
    title: str


def _rows(registrations: Iterable[tuple]) -> list[_Row]:
    out = []
    for row in registrations:
        pk, user_id, session_id, starts_at, registered_at, status, attended, moved = row[:8]
        tz, course_id, title = row[8:]
        out.append(
            _Row(
                reg=core.Registration(
                    registration_id=pk,
                    user_id=user_id,
                    session_id=session_id,
                    starts_at=starts_at,
                    registered_at=registered_at,
                    status=status,
                    attended=attended,
                    rescheduled_from=moved is not None,
                    local_hour=local_hour(starts_at, tz or "UTC"),
                ),
                course_id=course_id,
                title=title,
            )
        )
    return out


def _history(user_ids: set[int], before: datetime.datetime) -> list[_Row]:
    """The learners' registrations for held (not cancelled) sessions starting before `before`."""
    return _rows(
        LiveSessionRegistration.objects.filter(
            user_id__in=user_ids,
            session__status=LiveSession.Status.SCHEDULED,
            session__starts_at__lt=before,
        ).values_list(*_FIELDS)
    )


def _drop_off_risks(rows: list[_Row]) -> dict[tuple[int, int], float]:
    """(user, session) -> the enrolment's current drop-off risk (0-1); the learner's highest
    over their courses when the course has no score; missing when never scored."""
    scores = current_scores_of(user_ids=sorted({r.reg.user_id for r in rows}))
    by_enrolment = {
        (s.user_id, s.course_id): s.drop_off_risk / 100 for row in scores.values() for s in row
    }
    highest = {user_id: row[0].drop_off_risk / 100 for user_id, row in scores.items() if row}
    out = {}
    for r in rows:
        risk = by_enrolment.get((r.reg.user_id, r.course_id), highest.get(r.reg.user_id))
        if risk is not None:
            out[(r.reg.user_id, r.reg.session_id)] = risk
    return out


def _features(
    rows: list[_Row], now: datetime.datetime, *, targets: list[_Row] | None = None
) -> dict[int, core.Features]:
    """The features of `targets` (default: every row), with `rows` as their history."""
    wanted = rows if targets is None else targets
    return core.features_history(
        [r.reg for r in rows],
        _drop_off_risks(wanted),
        now=now,
        targets=None if targets is None else {r.reg.registration_id for r in targets},
    )


def no_show_model_current() -> NoShowModel | None:
    """The latest training attempt made (its card), or None before the first."""
    return NoShowModel.objects.order_by("-id").first()


@transaction.atomic
def no_show_model_train(*, now: datetime.datetime | None = None) -> NoShowModel:
    """Train on every past registration with an outcome and store the attempt; the model is
    used from now on only if it beat the baseline on the latest sessions (`in_use`)."""
    now = now or timezone.now()
    past = _rows(
        LiveSessionRegistration.objects.filter(
            session__status=LiveSession.Status.SCHEDULED, session__starts_at__lt=now
        ).values_list(*_FIELDS)
    )
    features = _features(past, now)
    training = [
        (
            r.reg.session_id,
            r.reg.starts_at,
            features[r.reg.registration_id],
            r.reg.attended is False,
        )
        for r in past
        if r.reg.attended is not None and r.reg.status == LiveSessionRegistration.Status.REGISTERED
    ]
    result = core.model_train(training)
    card = NoShowModel.objects.create(
        trained_at=now,
        n_outcomes=result.n_outcomes,
        n_no_shows=result.n_no_shows,
        n_train=result.n_train,
        n_holdout=result.n_holdout,
        model_auc=result.model.auc if result.model else None,
        model_log_loss=result.model.log_loss if result.model else None,
        baseline_auc=result.baseline.auc if result.baseline else None,
        baseline_log_loss=result.baseline.log_loss if result.baseline else None,
        in_use=result.beats_baseline,
        note=result.note[:255],
        coefficients=result.coefficients,
        feature_means=result.feature_means,
        fitted=core.model_dumps(result.fitted) if result.beats_baseline else None,
    )
    logger.info("no-show model v%s: %s", card.pk, result.note)
    return card


@dataclass(frozen=True)
class PredictResult:
    predicted: int
    source: str
    alerts: int
    reminders: int


def _alert_probability() -> float:
    return float(alert_rule_params_for(code=ALERT_CODE)["min_probability"])


def no_shows_predict(
    *, now: datetime.datetime | None = None, hours: int = PREDICT_HOURS
) -> PredictResult:
    """Predict every upcoming registration's no-show probability (sessions starting within
    `hours`), store it with its reasons, alert and remind the likely no-shows; see the
    module's docstring. A fixed number of queries, plus one delivery call per session with
    learners to remind."""
    now = now or timezone.now()
    upcoming = _rows(
        LiveSessionRegistration.objects.filter(
            status=LiveSessionRegistration.Status.REGISTERED,
            session__status=LiveSession.Status.SCHEDULED,
            session__starts_at__gt=now,
            session__starts_at__lte=now + datetime.timedelta(hours=hours),
        ).values_list(*_FIELDS)
    )
    # The latest attempt decides: a newer model that lost to the baseline retires the older.
    latest = no_show_model_current()
    source = prediction_source(latest)
    card = latest if source == NoShowPrediction.Source.MODEL else None
    if not upcoming:
        return PredictResult(predicted=0, source=source, alerts=0, reminders=0)
    history = _history({r.reg.user_id for r in upcoming}, now)
    rows = [*history, *upcoming]
    features = _features(rows, now, targets=upcoming)
    chosen = [features[r.reg.registration_id] for r in upcoming]
    if card is not None:
        probabilities = core.model_predict(core.model_loads(bytes(card.fitted)), chosen)
        contributions = [
            core.model_contributions(card.coefficients, card.feature_means, f.values)
            for f in chosen
        ]
    else:
        probabilities = [core.baseline_probability(f.values) for f in chosen]
        contributions = [core.baseline_contributions(f.values) for f in chosen]
    predictions = [
        NoShowPrediction(
            registration_id=r.reg.registration_id,
            probability=round(p, 4),
            source=source,
            model=card,
            components={k: round(v, 4) for k, v in f.values.items()},
            reasons=core.reasons_of(f, c),
            predicted_at=now,
        )
        for r, f, p, c in zip(upcoming, chosen, probabilities, contributions, strict=True)
    ]
    with transaction.atomic():
        NoShowPrediction.objects.bulk_create(
            predictions,
            update_conflicts=True,
            unique_fields=["registration"],
            update_fields=[
                "probability",
                "source",
                "model",
                "components",
                "reasons",
                "predicted_at",
            ],
            batch_size=1000,
        )
        threshold = _alert_probability()
        risky = [
            (r, p) for r, p in zip(upcoming, predictions, strict=True) if p.probability >= threshold
        ]
        alerts = alerts_raise(
            code=ALERT_CODE,
            candidates=[
                AlertCandidate(
                    user_id=r.reg.user_id,
                    course_id=r.course_id,
                    message=(
                        f"{p.probability:.0%} likely to miss \u201c{r.title}\u201d on "
                        f"{r.reg.starts_at:%d %b %H:%M} UTC"
                    ),
                    context={
                        "registration_id": r.reg.registration_id,
                        "session_id": r.reg.session_id,
                        "probability": p.probability,
                        "source": source,
                        "reasons": p.reasons,
                    },
                )
                for r, p in risky
            ],
            now=now,
        )
        reminders = _remind([r for r, _ in risky], now)
    return PredictResult(
        predicted=len(predictions), source=source, alerts=alerts, reminders=reminders
    )


def _remind(rows: list[_Row], now: datetime.datetime) -> int:
    """Queue the staff's reminder template for these learners whose session is near; return
    how many new deliveries. Nothing without an active template of the configured slug."""
    slug = settings.STRIDE_NO_SHOW_REMINDER_TEMPLATE
    template = template_get(slug=slug) if slug else None
    if template is None or not template.is_active:
        return 0
    soon = now + datetime.timedelta(hours=settings.STRIDE_NO_SHOW_REMINDER_HOURS)
    by_session: dict[tuple[int, int], list[int]] = {}
    for r in rows:
        if r.reg.starts_at <= soon:
            by_session.setdefault((r.reg.session_id, r.course_id), []).append(r.reg.user_id)
    sent = 0
    for (session_id, course_id), user_ids in sorted(by_session.items()):
        result = deliveries_queue(
            template=template,
            user_ids=user_ids,
            source=REMINDER_SOURCE.format(session_id=session_id),
            course_id=course_id,
            now=now,
        )
        sent += result.new
    return sent
