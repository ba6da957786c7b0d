"""What changed in a week: the findings the weekly insights are written from.

For the Monday-to-Sunday week just ended against the week before (learner-local days of the
daily aggregates), each finding is a plain record: a kind, a title, the named figures it rests
on (rounded as they will be shown), its significance and the page whose chart it comes from.
Nothing in a finding names a learner: learners appear as counts and anonymous ranks only.

Kinds, each with its statistics (analytics.services.weekly_stats):
- `metric`: a platform metric that moved significantly week on week (Welch + Cohen's d on the
  7 daily values, Holm over the metrics);
- `course`: the courses whose daily active learners moved most, significantly (the same test,
  Holm over the courses); at most TOP_COURSES;
- `learners`: how many active learners rose and declined in activity, and the largest moves
  by rank (sign test);
- `anomaly`: the days of the week the nightly anomaly scan flagged (robust score past 3.5);
- `correlation`: the engagement signals most strongly rank-correlated with the drop-off risk
  of the scoring run current at the week's end (Spearman, Holm);
- `intervention`: the rules, campaigns and templates with enough held-out learners, and the
  relative uplift of contacting on activity in the next 14 days with its 95% interval.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from analytics.models import Anomaly
from analytics.selectors.aggregates import daily_series, daily_series_by_scope
from analytics.services.retention import week_of
from analytics.services.significance import ALPHA
from analytics.services.weekly_stats import (
    Movement,
    learner_moves,
    rank_correlations,
    week_movements,
)
from campaigns.selectors.effectiveness import effectiveness_report
from engagement.catalogue import NON_ACTIVITY_TYPES
from engagement.models import EngagementScore, Event
from engagement.scoring.signals import MISSING, SIGNALS
from engagement.selectors.dashboard import scoring_run_current
from learning.models import Course

WEEK = datetime.timedelta(days=7)
DAY = datetime.timedelta(days=1)
TOP_COURSES = 3
TOP_ANOMALIES = 3
TOP_CORRELATIONS = 3
TOP_INTERVENTIONS = 3
MIN_COURSE_LEARNERS = 2.0  # mean daily active learners, in either week, for a course to move
MIN_LEARNERS = 10  # active learners in the two weeks before their moves are summarised
CORRELATION_SAMPLE = 5000  # score rows read for the correlations (the first by id)

# The platform metrics compared week on week: label, whether a level (daily mean) or a count
# (weekly total), and the trends page's metric if it has one.
METRICS: dict[str, tuple[str, bool, str | None]] = {
    "dau": ("Daily active learners", True, "dau"),
    "new_learners": ("New learners", False, "new_learners"),
    "events": ("Events", False, "events"),
    "enrollments": ("New enrollments", False, "enrollments"),
    "starts": ("Enrollments started", False, None),
    "completions": ("Course completions", False, "completions"),
    "at_risk_share": ("Share of learners at high drop-off risk", True, None),
}
SIGNAL_TEXT = {s.name: s.description for s in SIGNALS}


@dataclass(frozen=True)
class Finding:
    """One thing the statistics found, as plain data (what the writers may read)."""

    key: str  # stable within a week: a rerun replaces the insight of the same key
    kind: str
    title: str
    subject: str  # what it is about in words (a metric, a course title, a signal)
    figures: dict[str, float]
    p_value: float | None
    significant: bool
    chart_url: str
    direction: str = ""  # "up", "down" or ""


@dataclass(frozen=True)
class WeekFindings:
    week: datetime.date  # the Monday
    findings: list[Finding]
    movements: list[dict[str, Any]] = field(default_factory=list)  # every metric, for charts

    @property
    def week_end(self) -> datetime.date:
        return self.week + WEEK - DAY

    @property
    def dates(self) -> list[str]:
        return [self.week.isoformat(), self.week_end.isoformat()]


def week_just_ended(today: datetime.date | None = None) -> datetime.date:
    """The Monday of the last whole Monday-to-Sunday week before `today` (UTC today)."""
    today = today or timezone.now().date()
    return week_of(today) - WEEK


def _r(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


def _figures(**values: float | None) -> dict[str, float]:
    """The named figures without the undefined ones."""
    return {name: value for name, value in values.items() if value is not None}


def _range_query(week: datetime.date, **extra: str) -> str:
    return urlencode(
        {
            **extra,
            "range": "custom",
            "from": (week - WEEK).isoformat(),
            "to": (week + WEEK - DAY).isoformat(),
        }
    )


def _metric_url(metric: str, week: datetime.date, course: Course | None = None) -> str:
    """The chart a metric's finding comes from: the trends page of the metric over the two
    weeks; the engagement dashboard for the at-risk share; the overview for the others."""
    if metric == "at_risk_share":
        return reverse("engagement:dashboard")
    trends_metric = METRICS[metric][2] if metric in METRICS else metric
    if trends_metric is None:
        return reverse("analytics:overview") + "?" + _range_query(week)
    extra = {"metric": trends_metric}
    if course is not None:
        extra["course"] = course.external_id
    return reverse("analytics:trends") + "?" + _range_query(week, **extra)


def _daily_values(rows: list[Any], metric: str) -> list[float | None]:
    if metric == "at_risk_share":
        return [r.at_risk_share for r in rows]
    return [float(getattr(r, metric)) for r in rows]


def _movement_record(m: Movement) -> dict[str, Any]:
    return {
        "metric": m.metric,
        "label": METRICS[m.metric][0],
        "this_week": _r(m.this_week, 4),
        "last_week": _r(m.last_week, 4),
        "change_pct": _r(m.change_pct, 1),
        "p_value": _r(m.p_value_holm, 4),
        "significant": m.significant,
    }


def metric_findings(week: datetime.date) -> tuple[list[Finding], list[dict[str, Any]]]:
    """The platform metrics' week-over-week movements (every one, for the chart) and a
    finding for each significant one. One query."""
    rows = daily_series(week - WEEK, week + WEEK - DAY)
    last, this = rows[:7], rows[7:]
    movements = week_movements(
        {m: _daily_values(this, m) for m in METRICS},
        {m: _daily_values(last, m) for m in METRICS},
        levels=frozenset(m for m, (_, level, _) in METRICS.items() if level),
    )
    findings = []
    for m in movements:
        if not m.significant:
            continue
        label, level, _ = METRICS[m.metric]
        share = m.metric == "at_risk_share"
        scale = 100 if share else 1  # a share is shown as a percentage
        digits = 1 if level else 0
        findings.append(
            Finding(
                key=f"metric:{m.metric}",
                kind="metric",
                title=f"{label} {'rose' if m.this_week > m.last_week else 'fell'} week on week",
                subject=label,
                figures=_figures(
                    this_week=_r(m.this_week * scale, digits),
                    last_week=_r(m.last_week * scale, digits),
                    change_pct=_r(m.change_pct, 1),
                    cohen_d=_r(m.cohen_d, 2),
                    p_value=_r(m.p_value_holm, 4),
                ),
                p_value=m.p_value_holm,
                significant=True,
                chart_url=_metric_url(m.metric, week),
                direction="up" if m.this_week > m.last_week else "down",
            )
        )
    return findings, [_movement_record(m) for m in movements]


def course_findings(week: datetime.date) -> list[Finding]:
    """The courses whose daily active learners moved most, significantly (two queries)."""
    series = daily_series_by_scope(week - WEEK, week + WEEK - DAY)
    # Keyed by the course id as text: the movements name what they compare with a string.
    this = {str(cid): [float(r.dau) for r in rows[7:]] for cid, rows in series.items() if cid}
    last = {str(cid): [float(r.dau) for r in rows[:7]] for cid, rows in series.items() if cid}
    busy = {
        cid for cid in this if max(sum(this[cid]) / 7, sum(last[cid]) / 7) >= MIN_COURSE_LEARNERS
    }
    if not busy:
        return []
    moved = week_movements(
        {cid: this[cid] for cid in sorted(busy)},
        {cid: last[cid] for cid in sorted(busy)},
        levels=frozenset(busy),
    )
    moved = sorted(
        (m for m in moved if m.significant),
        key=lambda m: (-abs(m.this_week - m.last_week), m.metric),
    )[:TOP_COURSES]
    courses = Course.objects.in_bulk([int(m.metric) for m in moved])
    out = []
    for m in moved:
        course = courses[int(m.metric)]
        up = m.this_week > m.last_week
        out.append(
            Finding(
                key=f"course:{course.external_id}",
                kind="course",
                title=f"{course.title}: daily active learners {'up' if up else 'down'}",
                subject=course.title,
                figures=_figures(
                    this_week=_r(m.this_week, 1),
                    last_week=_r(m.last_week, 1),
                    change_pct=_r(m.change_pct, 1),
                    cohen_d=_r(m.cohen_d, 2),
                    p_value=_r(m.p_value_holm, 4),
                ),
                p_value=m.p_value_holm,
                significant=True,
                chart_url=reverse("analytics:course", args=[course.external_id])
                + "?"
                + _range_query(week),
                direction="up" if up else "down",
            )
        )
    return out


def _start_of(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


def learner_findings(week: datetime.date) -> list[Finding]:
    """How the learners active in the two weeks moved (UTC days; one query): counts and the
    largest moves by rank, never who."""
    last_start, this_start, end = _start_of(week - WEEK), _start_of(week), _start_of(week + WEEK)
    rows = (
        Event.objects.filter(occurred_at__gte=last_start, occurred_at__lt=end)
        .exclude(type__in=NON_ACTIVITY_TYPES)
        .values("user_id")
        .annotate(
            this=Count("pk", filter=Q(occurred_at__gte=this_start)),
            last=Count("pk", filter=Q(occurred_at__lt=this_start)),
        )
        .order_by()
        .values_list("this", "last")
    )
    changes = [this - last for this, last in rows]
    if len(changes) < MIN_LEARNERS:
        return []
    moves = learner_moves(changes)
    more_down = moves.declining > moves.rising
    return [
        Finding(
            key="learners:moves",
            kind="learners",
            title=(
                "More learners slowed down than sped up"
                if more_down
                else "More learners sped up than slowed down"
                if moves.rising > moves.declining
                else "As many learners sped up as slowed down"
            ),
            subject="Active learners",
            figures=_figures(
                learners=moves.learners,
                rising=moves.rising,
                declining=moves.declining,
                top_rise_events=moves.top_rises[0] if moves.top_rises else None,
                top_fall_events=moves.top_falls[0] if moves.top_falls else None,
                p_value=_r(moves.p_value, 4),
            ),
            p_value=moves.p_value,
            significant=moves.significant,
            chart_url=reverse("engagement:dashboard"),
            direction="down" if more_down else "up",
        )
    ]


def anomaly_findings(week: datetime.date) -> list[Finding]:
    """The week's stored anomalies, strongest first (one query)."""
    rows = Anomaly.objects.filter(day__gte=week, day__lt=week + WEEK).select_related("course")
    strongest = sorted(rows, key=lambda a: (-abs(a.score), a.day, a.metric))[:TOP_ANOMALIES]
    out = []
    for a in strongest:
        label = METRICS.get(a.metric, (a.metric.replace("_", " ").capitalize(),))[0]
        where = a.course.title if a.course else "the platform"
        high = a.value > a.baseline
        out.append(
            Finding(
                key=f"anomaly:{a.day.isoformat()}:{a.metric}:"
                f"{a.course.external_id if a.course else 'platform'}",
                kind="anomaly",
                title=f"{label} unusually {'high' if high else 'low'} on {a.day:%A} ({where})",
                subject=f"{label}, {where}",
                figures=_figures(
                    value=_r(a.value, 1), baseline=_r(a.baseline, 1), score=_r(a.score, 1)
                ),
                p_value=None,
                significant=True,
                chart_url=_metric_url(a.metric, week, a.course),
                direction="up" if high else "down",
            )
        )
    return out


def correlation_findings(week: datetime.date) -> list[Finding]:
    """The signals most strongly rank-correlated with the drop-off risk of the scoring run
    current the Monday after the week (for the week just ended, the latest run, which may be
    later); two queries, the first CORRELATION_SAMPLE scores."""
    run = scoring_run_current(on_or_before=week + WEEK)
    if run is None and week == week_just_ended():
        run = scoring_run_current()
    if run is None:
        return []
    rows = list(
        EngagementScore.objects.filter(run=run)
        .order_by("pk")
        .values_list("drop_off_risk", "signals")[:CORRELATION_SAMPLE]
    )
    if not rows:
        return []
    risk = [float(r) for r, _ in rows]
    # A run stores each score's signals as a list in the order of its signal_names (older
    # scores as a {name: value} dict).
    names = list(run.signal_names or [])
    by_name = [
        s if isinstance(s, dict) else dict(zip(names, s or [], strict=False)) for _, s in rows
    ]
    present = {name for values in by_name[:50] for name in values}
    signals = {
        name: [
            None if (v := values.get(name)) is None or v == MISSING else float(v)
            for values in by_name
        ]
        for name in SIGNAL_TEXT
        if name in present
    }
    out = []
    for c in [c for c in rank_correlations(signals, risk) if c.significant][:TOP_CORRELATIONS]:
        out.append(
            Finding(
                key=f"correlation:{c.signal}",
                kind="correlation",
                title=f"{SIGNAL_TEXT[c.signal]}: "
                f"{'higher' if c.rho > 0 else 'lower'} values go with higher drop-off risk",
                subject=SIGNAL_TEXT[c.signal],
                figures=_figures(rho=_r(c.rho, 2), enrollments=c.n, p_value=_r(c.p_value_holm, 4)),
                p_value=c.p_value_holm,
                significant=True,
                chart_url=reverse("engagement:dashboard"),
                direction="up" if c.rho > 0 else "down",
            )
        )
    return out


def intervention_findings() -> list[Finding]:
    """The measured effect of the rules, campaigns and templates with enough held-out
    learners (campaigns' effectiveness report), on activity in the next 14 days."""
    out = []
    for effect in [e for e in effectiveness_report() if e.enough][:TOP_INTERVENTIONS]:
        head = effect.headline
        if head is None or head["uplift"] is None:
            continue
        low, high = head["ci"]
        p = head["p_value"]
        out.append(
            Finding(
                key=f"intervention:{effect.kind}:{effect.key}",
                kind="intervention",
                title=f"{effect.kind.capitalize()} “{effect.name}”: "
                f"{'more' if head['uplift'] > 0 else 'fewer'} contacted learners active in "
                "the next 14 days",
                subject=f"{effect.kind} “{effect.name}”",
                figures=_figures(
                    uplift_pct=_r(head["uplift"] * 100, 1),
                    ci_low_pct=_r(low * 100 if low is not None else None, 1),
                    ci_high_pct=_r(high * 100 if high is not None else None, 1),
                    p_value=_r(p, 4),
                    contacted=head["contacted"],
                    held_out=head["held_out"],
                ),
                p_value=p,
                significant=p is not None and p < ALPHA,
                chart_url=reverse("effectiveness"),
                direction="up" if head["uplift"] > 0 else "down",
            )
        )
    return out


def week_findings(week: datetime.date) -> WeekFindings:
    """Every finding of the week starting on Monday `week`, in the order the page shows
    them: the platform's movements, courses, learners, anomalies, correlations,
    interventions."""
    metrics, movements = metric_findings(week)
    findings = [
        *metrics,
        *course_findings(week),
        *learner_findings(week),
        *anomaly_findings(week),
        *correlation_findings(week),
        *intervention_findings(),
    ]
    return WeekFindings(week=week, findings=findings, movements=movements)
