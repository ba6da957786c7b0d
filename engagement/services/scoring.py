"""Scoring runs: every active enrolment's drop-off risk as of a date, one snapshot in bulk.

A score is per enrolment (learner x course): a learner in two courses gets two rows per run,
each from the signals of that course (see ``learner_activity``). An enrolment with no activity
at all is scored too and flagged ``never_started``. The learner-level figure is derived in
``engagement.selectors.learners.learner_risks``.

How the numbers are derived (shown to staff on the learner page and in the API):

* ``drop_off_risk`` = 100 x the model's calibrated probability of no activity in its horizon H
  (10 days by default) after the as-of date. Until a model is trained, the hand-weighted
  BaselineRiskModel gives the probability.
* ``weekly_risk`` / ``monthly_risk`` convert that H-day probability to 7 and 30 days assuming a
  constant daily hazard: p_t = 1 - (1 - p_H) ** (t / H). So for H = 10, weekly <= drop_off <=
  monthly always holds; it is a conversion, not a separate model.
* ``confidence`` (0-100) = model factor x (half data sufficiency + half decisiveness), where data
  sufficiency = sqrt(min(1, days observed / 28) x min(1, log(1 + events in window) / log(31)))
  (a learner seen for four weeks with ~30 events has full data), decisiveness = |2p - 1| (the
  calibrated probability's distance from the 50 % boundary), and the model factor is 1 for a
  trained, calibrated model and 0.6 for the uncalibrated baseline. A never-started enrolment
  has no data to go on (only its age and course): its confidence is at most
  NEVER_STARTED_MAX_CONFIDENCE, whatever the probability.
* ``level``: low < 30 <= medium < 60 <= high < 80 <= critical, on drop_off_risk.
* ``drivers``: the model's top 5 signals for this enrolment: the signal, the catalogue
  description as label, the model's plain sentence as text (with the course's typical value,
  the median among its scored enrolments), the value, that typical value and the contribution
  in risk points (positive = raises risk, negative = lowers it).
* ``recommendations``: see engagement.services.recommendations.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import math
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
from django.conf import settings
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from core.bulk import rows_insert
from core.jobs import task_enqueue
from core.statement_timeout import statement_timeout_for_jobs
from engagement.models import EngagementScore, RiskModelVersion, ScoringRun
from engagement.scoring.model import BaselineRiskModel, Driver, RiskModel, typical_values
from engagement.scoring.signals import SIGNAL_INDEX, SIGNAL_NAMES, SIGNALS, compute_signals
from engagement.selectors.activity import learner_activity
from engagement.services.recommendations import recommendations_for

logger = logging.getLogger(__name__)

EXECUTE_SCORING_RUN_TASK = "engagement.execute_scoring_run"  # engagement/tasks.py

CHUNK_SIZE = 10_000  # enrolments written (and progress reported) per transaction
TOP_DRIVERS = 5
# With no activity at all the score rests on the enrolment's age and course alone; whatever
# the model's probability, staff should read it as a weak estimate.
NEVER_STARTED_MAX_CONFIDENCE = 15
# A run left "running" this long is taken to have lost its worker and may be claimed again;
# its already written scores stay and are not duplicated (unique (run, user, course)).
STALE_RUN = datetime.timedelta(hours=2)
UNFINISHED = (ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING)
LEVEL_BOUNDS: tuple[tuple[int, str], ...] = ((80, "critical"), (60, "high"), (30, "medium"))
BASELINE_CONFIDENCE_FACTOR = 0.6
_LABEL = {sig.name: sig.description for sig in SIGNALS}


def risk_level(score: int | float) -> str:
    """Return the level of a 0-100 risk: low < 30 <= medium < 60 <= high < 80 <= critical."""
    for bound, level in LEVEL_BOUNDS:
        if score >= bound:
            return level
    return "low"


def horizon_risk(p: np.ndarray, *, horizon_days: int, days: int) -> np.ndarray:
    """Return the probability over ``days`` from one over ``horizon_days`` (constant hazard)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    return 1.0 - (1.0 - p) ** (days / horizon_days)


def risk_confidence(
    p: np.ndarray, X: np.ndarray, *, trained: bool, never_started: np.ndarray | None = None
) -> np.ndarray:
    """Return 0-100 confidence from data sufficiency and distance from the decision boundary.

    Never-started rows are capped at NEVER_STARTED_MAX_CONFIDENCE (see the module docstring).
    """
    seen = np.minimum(1.0, (X[:, SIGNAL_INDEX["days_since_first"]] + 1.0) / 28.0)
    volume = np.minimum(1.0, np.log1p(X[:, SIGNAL_INDEX["events_window"]]) / np.log(31.0))
    data = np.sqrt(np.clip(seen, 0, 1) * np.clip(volume, 0, 1))
    decisive = np.abs(2.0 * np.clip(p, 0, 1) - 1.0)
    factor = 1.0 if trained else BASELINE_CONFIDENCE_FACTOR
    confidence = np.rint(100.0 * factor * (0.5 * data + 0.5 * decisive))
    if never_started is not None:
        confidence = np.where(
            never_started, np.minimum(confidence, NEVER_STARTED_MAX_CONFIDENCE), confidence
        )
    return confidence


def active_risk_model() -> tuple[RiskModel | BaselineRiskModel, RiskModelVersion | None, int]:
    """Return the model that scores now, its stored version (None = baseline) and its horizon."""
    version = RiskModelVersion.objects.filter(is_active=True).order_by("-version").first()
    if version is not None:
        try:
            return RiskModel.from_bytes(bytes(version.artifact)), version, version.horizon_days
        except (TypeError, ValueError) as exc:
            # A model built for an older signal catalogue cannot score; say so, keep scoring.
            logger.warning("risk model v%s unusable (%s); using the baseline", version, exc)
    return BaselineRiskModel(), None, settings.STRIDE_RISK_HORIZON_DAYS


def learners_score(
    *,
    as_of: datetime.date,
    model: RiskModel | BaselineRiskModel | None = None,
    horizon_days: int | None = None,
) -> dict[str, Any]:
    """Return the active enrolments as of a date with signals and scores (nothing is written).

    One row per enrolment, sorted by (user, course). Keys: user_ids, course_ids,
    never_started (bool), enrolment_age (days), X (signals), typical (each signal's median in
    the row's course), p (H-day probability), drop_off,
    weekly, monthly, confidence (int arrays), levels (list), model.
    """
    if model is None:
        model, _, horizon_days = active_risk_model()
    horizon = int(horizon_days or settings.STRIDE_RISK_HORIZON_DAYS)
    act = learner_activity(as_of=as_of)
    uids = act.user_ids
    never = act.never_started
    X = compute_signals(act)
    p = model.predict_proba(X) if len(uids) else np.zeros(0)
    drop = np.rint(100.0 * p).astype(np.int64)
    trained = isinstance(model, RiskModel)
    return {
        "user_ids": uids,
        "course_ids": act.course_ids,
        "never_started": never,
        "enrolment_age": act.enrolment_age.astype(np.float64),
        "X": X,
        # The drivers' course context: each signal's median among the course's enrolments.
        "typical": typical_values(X, act.course_ids),
        "p": p,
        "drop_off": drop,
        "weekly": np.rint(100.0 * horizon_risk(p, horizon_days=horizon, days=7)).astype(np.int64),
        "monthly": np.rint(100.0 * horizon_risk(p, horizon_days=horizon, days=30)).astype(np.int64),
        "confidence": risk_confidence(p, X, trained=trained, never_started=never).astype(np.int64),
        "levels": [risk_level(s) for s in drop.tolist()],
        "model": model,
    }


def _driver_json(driver: Driver, value: float) -> dict[str, Any]:
    """One of the model's drivers as stored with a score (see the module docstring)."""
    typical = driver.typical
    return {
        "signal": driver.signal,
        "label": _LABEL.get(driver.signal, driver.signal),
        "text": driver.text or _LABEL.get(driver.signal, driver.signal),
        "value": value,
        "typical": None if typical is None else round(float(typical), 3),
        "contribution": round(float(driver.points), 2),
    }


_SCORE_COLUMNS = (
    ("run_id", "bigint"),
    ("user_id", "bigint"),
    ("course_id", "bigint"),
    ("never_started", "boolean"),
    ("as_of", "date"),
    ("scored_at", "timestamptz"),
    ("drop_off_risk", "smallint"),
    ("weekly_risk", "smallint"),
    ("monthly_risk", "smallint"),
    ("confidence", "smallint"),
    ("level", "text"),
    ("drivers", "jsonb"),
    ("recommendations", "jsonb"),
    ("signals", "jsonb"),
)
_to_json = json.JSONEncoder(separators=(",", ":")).encode
# The signal values of a score, a JSON list in SIGNAL_NAMES order (the run records the names):
# a %-template of the finite values writes it several times faster than a JSON encoder.
_SIGNALS_TEMPLATE = "[" + ",".join(["%r"] * len(SIGNAL_NAMES)) + "]"


def _score_rows(
    run: ScoringRun, scored: dict[str, Any], rows: slice, scored_at: datetime.datetime
) -> list[list[Any]]:
    """Return the enrolments in ``rows`` of ``scored`` as rows of _SCORE_COLUMNS (JSON as
    text), ready for the bulk insert; no model instance per score."""
    X = scored["X"][rows]
    levels = scored["levels"][rows]
    never = scored["never_started"][rows]
    drivers = scored["model"].explain(X, top=TOP_DRIVERS, typical=scored["typical"][rows])
    recs = recommendations_for(
        X, levels, never_started=never, enrolment_age=scored["enrolment_age"][rows]
    )
    rounded_array = np.round(X, 3)
    rounded = rounded_array.tolist()
    finite = bool(np.isfinite(rounded_array).all())
    col = {name: j for j, name in enumerate(SIGNAL_NAMES)}
    columns = zip(
        scored["user_ids"][rows].tolist(),
        scored["course_ids"][rows].tolist(),
        never.tolist(),
        scored["drop_off"][rows].tolist(),
        scored["weekly"][rows].tolist(),
        scored["monthly"][rows].tolist(),
        scored["confidence"][rows].tolist(),
        strict=True,
    )
    out = []
    for i, (uid, cid, never_started, drop, weekly, monthly, confidence) in enumerate(columns):
        values = rounded[i]
        signals = (
            _SIGNALS_TEMPLATE % tuple(values)
            if finite
            else _to_json([v if math.isfinite(v) else None for v in values])
        )
        out.append(
            [
                run.pk,
                uid,
                cid,
                bool(never_started),
                run.as_of,
                scored_at,
                drop,
                weekly,
                monthly,
                confidence,
                levels[i],
                _to_json([_driver_json(d, values[col[d.signal]]) for d in drivers[i]]),
                _to_json(recs[i]),
                signals,
            ]
        )
    return out


def _scores_insert(rows: list[list[Any]]) -> None:
    """Insert score rows, skipping (run, user, course) rows already written (a retried run).

    Through the bulk writer's COPY on PostgreSQL: binding 50,000 rows of JSON as parameters
    through bulk_create took longer than computing every learner's signals (measured 25 s of
    a 66 s run).
    """
    rows_insert(EngagementScore, _SCORE_COLUMNS, rows, conflict=("run_id", "user_id", "course_id"))


def scoring_run_start(
    *,
    as_of: datetime.date | None = None,
    requested_by: Any = None,
    execute_now: bool = False,
    reuse_done: bool = False,
) -> ScoringRun:
    """Start a scoring run, or return the run of that date already under way.

    See scoring_run_get_or_start, which also says whether the run was started by this call.
    """
    run, _ = scoring_run_get_or_start(
        as_of=as_of, requested_by=requested_by, execute_now=execute_now, reuse_done=reuse_done
    )
    return run


def scoring_run_get_or_start(
    *,
    as_of: datetime.date | None = None,
    requested_by: Any = None,
    execute_now: bool = False,
    reuse_done: bool = False,
) -> tuple[ScoringRun, bool]:
    """Return the date's unfinished run, or create a pending one; and whether it was created.

    ``as_of`` defaults to today (UTC). The command and the nightly task execute the run
    inline; the dashboard's "Recalculate all" enqueues ``engagement.execute_scoring_run``
    once the transaction commits, and polls progress.

    The database holds at most one pending or running run per as-of date (constraint
    ``scoring_run_one_unfinished_per_day``), so a second "Recalculate all" or a redelivered
    nightly task gets the run under way rather than scoring every learner again. With
    ``reuse_done`` (the nightly task) a finished run of the date counts too: that day has been
    scored. A joined run that is pending, or running for longer than STALE_RUN (its worker
    lost), is handed to a worker again; the claim lets only one of them execute it.
    """
    day = as_of or timezone.now().astimezone(datetime.UTC).date()
    with transaction.atomic():
        run, created = _day_run(day, requested_by=requested_by, reuse_done=reuse_done)
        if not execute_now and (created or _needs_worker(run)):
            # By name: the task module imports this one, and services sit below tasks.
            run_id = run.pk
            transaction.on_commit(lambda: task_enqueue(EXECUTE_SCORING_RUN_TASK, run_id))
    if execute_now and run.status in UNFINISHED:
        scoring_run_execute(run_id=run.pk)
        run.refresh_from_db()
    return run, created


def _day_run(day: datetime.date, *, requested_by: Any, reuse_done: bool) -> tuple[ScoringRun, bool]:
    """The date's unfinished (or, with reuse_done, newest done) run, else a new pending one."""
    wanted = [*UNFINISHED, ScoringRun.Status.DONE] if reuse_done else list(UNFINISHED)
    for _ in range(3):
        # One look at both (two looks let a run that finished between them go unseen, and a
        # second run of the day start): the unfinished run, else the newest done one.
        found = list(
            ScoringRun.objects.filter(as_of=day, status__in=wanted).order_by("-finished_at", "-pk")
        )
        run = next((r for r in found if r.status in UNFINISHED), found[0] if found else None)
        if run is not None:
            return run, False
        try:
            with transaction.atomic():
                return ScoringRun.objects.create(as_of=day, requested_by=requested_by), True
        except IntegrityError:
            # Another request created the date's run between the look and the insert; it has
            # committed (the insert waited for it), so the next look finds it.
            continue
    raise RuntimeError(f"Could not start or find the scoring run as of {day}.")


def _needs_worker(run: ScoringRun) -> bool:
    """Whether an unfinished run waits for a worker: pending, or running with a lost worker."""
    if run.status == ScoringRun.Status.PENDING:
        return True
    started = run.started_at
    return (
        run.status == ScoringRun.Status.RUNNING
        and bool(started)
        and started < timezone.now() - STALE_RUN
    )


def _claim(run_id: int) -> ScoringRun | None:
    """Mark a pending (or stale running) run as running; None if another worker has it."""
    now = timezone.now()
    with transaction.atomic():
        run = (
            ScoringRun.objects.select_for_update(skip_locked=True)
            .filter(pk=run_id)
            .filter(
                Q(status=ScoringRun.Status.PENDING)
                | Q(status=ScoringRun.Status.RUNNING, started_at__lt=now - STALE_RUN)
            )
            .first()
        )
        if run is None:
            return None
        run.status = ScoringRun.Status.RUNNING
        run.started_at = now
        run.error = ""
        run.save(update_fields=["status", "started_at", "error"])
    return run


def _chunk_write(run_id: int, rows: list[list[Any]], processed: int) -> None:
    """Insert one chunk of a run's scores and record the progress, in one transaction."""
    with transaction.atomic():
        statement_timeout_for_jobs(local=True)  # a job (command or task), not a request
        _scores_insert(rows)
        ScoringRun.objects.filter(pk=run_id).update(processed=processed)


@contextlib.contextmanager
def _chunk_writer() -> Iterator[Callable[[int, list[list[Any]], int], None]]:
    """Yield a function that writes a chunk (``_chunk_write``); return once all are written.

    On PostgreSQL, outside any transaction (a task or command, not a test's transaction), a
    chunk is written by a second thread on its own connection while the next one is being
    prepared: the database's work on one (parsing its JSON, indexing) overlaps Python's on
    the other (measured on 70,000 scores: 14 s instead of 17 s). At most one chunk is in
    flight, and a failed write is raised in the caller at the next write or at the end.
    Elsewhere chunks are written in turn.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield _chunk_write
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="scores") as pool:
        pending: Future[None] | None = None

        def write(run_id: int, rows: list[list[Any]], processed: int) -> None:
            nonlocal pending
            if pending is not None:
                pending.result()
            pending = pool.submit(_chunk_write, run_id, rows, processed)

        try:
            yield write
            if pending is not None:
                pending.result()
        finally:
            # The writer thread's connection is its own: close it there.
            pool.submit(connections.close_all).result()


def scoring_run_execute(*, run_id: int, chunk_size: int = CHUNK_SIZE) -> ScoringRun | None:
    """Score every active enrolment of a pending run in chunks; return the run, or None if not
    claimable.

    Progress (``processed`` of ``total``) is committed after each chunk of ``chunk_size``
    scores (see ``_chunk_writer``). A failure marks the run
    failed with the error text. After success, each handler in STRIDE_SCORING_HANDLERS is
    called with the run (a handler's error is logged, the run stays done).
    """
    run = _claim(run_id)
    if run is None:
        return None
    try:
        model, version, horizon = active_risk_model()
        scored = learners_score(as_of=run.as_of, model=model, horizon_days=horizon)
        total = len(scored["user_ids"])
        run.total, run.processed, run.model_version = total, 0, version
        run.signal_names = list(SIGNAL_NAMES)  # the order of every score's signal values
        run.save(update_fields=["total", "processed", "model_version", "signal_names"])
        scored_at = timezone.now()
        with _chunk_writer() as write:
            for start in range(0, total, chunk_size):
                rows = slice(start, min(start + chunk_size, total))
                write(run.pk, _score_rows(run, scored, rows, scored_at), rows.stop)
        run.processed = total
        run.status = ScoringRun.Status.DONE
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "finished_at"])
    except Exception as exc:
        logger.exception("scoring run %s failed", run.pk)
        run.status = ScoringRun.Status.FAILED
        run.finished_at = timezone.now()
        run.error = f"{type(exc).__name__}: {exc}"[:5000]
        run.save(update_fields=["status", "finished_at", "error"])
        return run
    for path in settings.STRIDE_SCORING_HANDLERS:
        try:
            import_string(path)(run)
        except Exception:
            logger.exception("scoring handler %s failed for run %s", path, run.pk)
    return run
