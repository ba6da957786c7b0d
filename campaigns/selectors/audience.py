"""Audiences: the learners a filter of the campaigns filter language selects, as ONE query.

`audience_users` compiles a filter (`campaigns.filters`) to a WHERE clause over the active
students: every condition is an EXISTS or a scalar subquery correlated on the learner, never a
join that multiplies rows and never a loop over learners in Python. Conditions on a maximum
(risk, last activity, last message) are written as EXISTS over the rows that reach the bound
("risk >= 60" is "has an enrolment score >= 60 in the current run"), which PostgreSQL runs as
a semi- or anti-join instead of a subquery per learner.

Before the query is built, one small query finds the current scoring run (engagement's
`scoring_run_current`) when the filter names risk, risk_level or a signal, so that the scores'
index on (run, user, course) is probed with a constant and a signal's position in the run's
`signal_names` is known. Each condition is true or false for every learner, never SQL NULL, so
`not` is exactly the opposite (see the language's rules on learners without a value).

Weeks (signup_week, first_enrollment_week) are learner-local: one small query lists the
students' timezones and each week becomes, per timezone, a range of UTC instants.

A learner's local "today" (streaks) is worked out in Python for every IANA timezone and put in
the query as the lists of timezones whose date differs from UTC's, so that SQLite, which has no
timezone data, gives the same answer as PostgreSQL.
"""

from __future__ import annotations

import datetime
import functools
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import (
    Case,
    DateField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce

from accounts.models import User
from campaigns.filters import DELIVERY_FIELDS, filter_errors, filter_evaluate
from core.errors import DomainValidationError
from core.localtime import local_day_bounds
from engagement.models import EngagementScore, Event, ScoringRun
from engagement.selectors.dashboard import scoring_run_current
from gamification.defaults_rewards import FREEZES_MAX_HELD, STREAK_FREEZE
from gamification.models import LearnerGameProfile, RewardGrant, RewardUse, StreakDay
from interventions.models import Delivery
from learning.models import Enrollment, Lesson, LessonProgress

DAY = datetime.timedelta(days=1)
# Game-profile fields: column, and the value of a learner who has no profile yet.
_PROFILE: dict[str, tuple[str, Any]] = {
    "xp": ("total_xp", 0),
    "level": ("level", 1),
    "league": ("league_tier", "bronze"),
}
# Conditions that hold for every learner / for none, as plain SQL (an empty Q() would vanish
# from an OR instead of making it true).
TRUE = Q(pk__isnull=False)
FALSE = Q(pk__isnull=True)
_SCORE_FIELDS = {"risk", "risk_level", "signal"}


def _literal(value: Any) -> Any:
    """`value` as a comparison's right-hand side: a fraction stays a fraction against an
    integer column (Django would round 59.5 down to 59 there)."""
    if isinstance(value, float):
        return Value(value, output_field=FloatField())
    return value


def _learners() -> QuerySet[User]:
    return User.objects.filter(role=User.Role.STUDENT, is_active=True)


def _mine(model: Any) -> QuerySet[Any]:
    """`model`'s rows of the learner of the outer query."""
    return model.objects.filter(user_id=OuterRef("pk"))


def _count(queryset: QuerySet[Any]) -> Subquery:
    """COUNT(*) of `queryset` as a scalar subquery (no GROUP BY: always one row)."""
    return Subquery(
        queryset.order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n"),
        output_field=IntegerField(),
    )


@functools.lru_cache(maxsize=64)
def _zones_by_offset(utc_date: datetime.date, hour_key: datetime.datetime) -> dict[int, tuple]:
    """IANA timezones whose local date at `hour_key` is UTC's date -1 / +1 (0: the rest)."""
    out: dict[int, list[str]] = {-1: [], 1: []}
    for name in zoneinfo.available_timezones():
        try:
            local = hour_key.astimezone(zoneinfo.ZoneInfo(name)).date()
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # pragma: no cover - broken tzdata
            continue
        shift = (local - utc_date).days
        if shift in out:
            out[shift].append(name)
    return {shift: tuple(sorted(names)) for shift, names in out.items()}


class _Compiler:
    """Turns one valid filter into a Q over users, with the aliases its conditions use."""

    def __init__(self, now: datetime.datetime) -> None:
        self.now = now
        self.aliases: dict[str, Any] = {}
        self._names: dict[tuple[Any, ...], str] = {}
        self.never_null: set[str] = {"timezone", "role", "pk"}
        self._run: ScoringRun | None = None
        self._run_read = False
        self._timezones: list[str] | None = None

    # --- shared pieces ------------------------------------------------------------------

    def alias(self, key: tuple[Any, ...], make: Callable[[], Any]) -> str:
        """The name of the alias for `key`, made (once) by `make`."""
        if key not in self._names:
            name = f"_f{len(self._names)}"
            self._names[key] = name
            self.aliases[name] = make()
        return self._names[key]

    @property
    def run(self) -> ScoringRun | None:
        if not self._run_read:
            self._run = scoring_run_current()
            self._run_read = True
        return self._run

    @property
    def timezones(self) -> list[str]:
        """The timezones of the active students (one query, the first time)."""
        if self._timezones is None:
            self._timezones = sorted(
                set(_learners().order_by().values_list("timezone", flat=True).distinct())
            )
        return self._timezones

    def in_local_week(self, monday: str, condition: Callable[[Any, Any], Q]) -> Q:
        """OR over the students' timezones of: this timezone and `condition(lo, hi)`, the
        UTC bounds of the local week from `monday` in it."""
        first = datetime.date.fromisoformat(monday)
        out = FALSE
        for tz in self.timezones:
            lo = local_day_bounds(first, tz)[0]
            hi = local_day_bounds(first + 7 * DAY, tz)[0]
            out |= Q(timezone=tz) & condition(lo, hi)
        return out

    def scores(self) -> QuerySet[EngagementScore]:
        return _mine(EngagementScore).filter(run_id=self.run.pk if self.run else 0)

    def top_score(self) -> QuerySet[EngagementScore]:
        """The enrolment score that drives the learner's risk (engagement's learner_risk_of)."""
        return self.scores().order_by("-drop_off_risk", F("course_id").asc(nulls_last=True))

    def local_day(self, offset: int) -> Case:
        """Per learner: their local date today + `offset` days, as a CASE over timezones."""
        utc = self.now.astimezone(datetime.UTC)
        zones = _zones_by_offset(utc.date(), utc.replace(second=0, microsecond=0))
        base = utc.date() + offset * DAY
        return Case(
            When(timezone__in=zones[-1] or ("",), then=Value(base - DAY)),
            When(timezone__in=zones[1] or ("",), then=Value(base + DAY)),
            default=Value(base),
            output_field=DateField(),
        )

    # --- the tree -----------------------------------------------------------------------

    def node(self, node: Mapping[str, Any]) -> Q:
        if not node:
            return Q()
        if "all" in node:
            return functools.reduce(lambda a, b: a & b, (self.node(n) for n in node["all"]))
        if "any" in node:
            return functools.reduce(lambda a, b: a | b, (self.node(n) for n in node["any"]))
        if "not" in node:
            return ~self.node(node["not"])
        return self.leaf(node)

    def leaf(self, node: Mapping[str, Any]) -> Q:
        op = node.get("op", "=")
        if op == "!=":
            return ~self.leaf({**node, "op": "="})
        if op == "not_in":
            return ~self.leaf({**node, "op": "in"})
        field = node["field"]
        value = node.get("value", True)
        if field in DELIVERY_FIELDS:
            return self.boolean(self.delivered(node), op, value)
        if field == "streak_at_risk":
            return self.boolean(self.streak_at_risk(), op, value)
        if field in ("course", "enrollment_status"):
            return self.enrolled(node, op, value)
        if field in ("signup_week", "first_enrollment_week"):
            return self.week(node, op, value)
        if field in ("days_inactive", "days_since_signup", "days_since_last_message"):
            return self.days(field, op, value)
        if field == "risk" and op not in ("in",):
            return self.risk(op, value)
        if field in _PROFILE:
            return self.profile(field, op, value)
        name = self.scalar(node)
        return self.compare(name, op, value)

    def boolean(self, condition: Q, op: str, value: bool) -> Q:
        if op == "is_set":
            return TRUE if value else FALSE
        return condition if value else ~condition

    def compare(self, name: str, op: str, value: Any) -> Q:
        """`op` on the alias `name`, false (never NULL) where it has no value."""
        if op == "is_set":
            if name in self.never_null:
                return TRUE if value else FALSE
            return Q(**{f"{name}__isnull": not value})
        if op == "in":
            return functools.reduce(
                lambda a, b: a | b, (self.compare(name, "=", item) for item in value)
            )
        lookup = {
            "=": "exact",
            ">": "gt",
            ">=": "gte",
            "<": "lt",
            "<=": "lte",
            "contains": "icontains",
        }[op]
        condition = Q(**{f"{name}__{lookup}": _literal(value)})
        if name in self.never_null:
            return condition
        return Q(**{f"{name}__isnull": False}) & condition

    # --- fields -------------------------------------------------------------------------

    def scalar(self, node: Mapping[str, Any]) -> str:
        """The alias holding the field's one value per learner (NULL: none)."""
        field = node["field"]
        if field in ("timezone", "role"):
            return field
        if field == "learner":
            return "pk"
        if field == "risk":
            return self.alias(
                ("risk",), lambda: Subquery(self.top_score().values("drop_off_risk")[:1])
            )
        if field == "risk_level":
            return self.alias(
                ("risk_level",), lambda: Subquery(self.top_score().values("level")[:1])
            )
        if field == "signal":
            return self.alias(("signal", node["name"]), lambda: self.signal(node["name"]))
        if field == "progress":
            course = node.get("course")
            return self.alias(("progress", course), lambda: self.progress(course))
        if field == "streak":
            name = self.alias(("streak",), self.streak)
            self.never_null.add(name)
            return name
        if field == "streak_in_two_weeks":
            name = self.alias(("streak_in", node["week"]), lambda: self.streak_in(node["week"]))
            self.never_null.add(name)
            return name
        raise ValueError(f"unknown field {field!r}")  # pragma: no cover - validated before

    def profile(self, field: str, op: str, value: Any) -> Q:
        """A game-profile column; a learner without a profile has its starting value. As
        EXISTS (the profile matches) or NOT EXISTS (no profile fails), semi- and anti-joins."""
        column, default = _PROFILE[field]
        if op == "is_set":
            return TRUE if value else FALSE
        profiles = _mine(LearnerGameProfile)
        if op == "in":
            matches = functools.reduce(
                lambda a, b: a | b, (Q(**{column: _literal(item)}) for item in value)
            )
        else:
            lookup = {"=": "exact", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}[op]
            matches = Q(**{f"{column}__{lookup}": _literal(value)})
        if filter_evaluate({"field": field, "op": op, "value": value}, {field: default}):
            return ~Q(Exists(profiles.exclude(matches)))  # the columns are never NULL
        return Q(Exists(profiles.filter(matches)))

    def risk(self, op: str, value: float) -> Q:
        """Conditions on the highest score as EXISTS over the scores reaching the bound."""
        scored = Exists(self.scores())
        if op == "is_set":
            return Q(scored) if value else ~Q(scored)
        above = Exists(self.scores().filter(drop_off_risk__gt=_literal(value)))
        at_least = Exists(self.scores().filter(drop_off_risk__gte=_literal(value)))
        if op == ">":
            return Q(above)
        if op == ">=":
            return Q(at_least)
        if op == "<":
            return Q(scored) & ~Q(at_least)
        if op == "<=":
            return Q(scored) & ~Q(above)
        return Q(Exists(self.scores().filter(drop_off_risk=_literal(value)))) & ~Q(above)  # "="

    def signal(self, name: str) -> Subquery:
        run = self.run
        names = list(run.signal_names or []) if run else []
        if names and name not in names:
            return Value(None, output_field=FloatField())
        key = str(names.index(name)) if names else name  # a list since scores per enrolment
        return Subquery(
            self.top_score()
            .annotate(v=Cast(KeyTextTransform(key, "signals"), FloatField()))
            .values("v")[:1],
            output_field=FloatField(),
        )

    def progress(self, course: str | None) -> Any:
        enrolments = Enrollment.objects.filter(user_id=OuterRef("pk"))
        if course is not None:
            enrolments = enrolments.filter(course__external_id=course)
        lessons = _count(Lesson.objects.filter(course_id=OuterRef("course_id")))
        done = _count(
            LessonProgress.objects.filter(
                user_id=OuterRef("user_id"),
                lesson__course_id=OuterRef("course_id"),
                completed_at__isnull=False,
            )
        )
        percent = ExpressionWrapper(
            Cast(done, FloatField()) * Value(100.0) / Cast(lessons, FloatField()),
            output_field=FloatField(),
        )
        return Subquery(
            enrolments.alias(total=lessons)
            .filter(total__gt=0)
            .annotate(p=percent)
            .order_by("-p")
            .values("p")[:1],
            output_field=FloatField(),
        )

    def _tail(self, column: str) -> Subquery:
        return Subquery(_mine(StreakDay).order_by("-date").values(column)[:1])

    def _alive(self) -> Q:
        """Gamification's streak_states: the latest streak day is today or later, yesterday,
        or as many days earlier as the freezes the learner holds can cover."""
        tail = self.alias(("streak_tail",), lambda: self._tail("date"))
        granted = Subquery(
            _mine(RewardGrant)
            .filter(reward__code=STREAK_FREEZE)
            .order_by()
            .annotate(n=Func(F("quantity"), function="SUM"))
            .values("n"),
            output_field=IntegerField(),
        )
        used = _count(_mine(RewardUse).filter(reward__code=STREAK_FREEZE, refunded_at__isnull=True))
        held = self.alias(
            ("freezes",),
            lambda: ExpressionWrapper(
                Coalesce(granted, Value(0)) - used, output_field=IntegerField()
            ),
        )
        alive = Q(**{f"{tail}__gte": self.local_day(-1)})
        for missed in range(1, FREEZES_MAX_HELD + 1):
            alive |= Q(**{f"{tail}": self.local_day(-1 - missed), f"{held}__gte": missed})
        return Q(**{f"{tail}__isnull": False}) & alive

    def streak(self) -> Any:
        return Case(
            When(self._alive(), then=self._tail("run_length")),
            default=Value(0),
            output_field=IntegerField(),
        )

    def streak_in(self, monday: str) -> Any:
        """The longest run_length of the learner's streak days within 14 days of `monday`."""
        first = datetime.date.fromisoformat(monday)
        longest = Subquery(
            _mine(StreakDay)
            .filter(date__gte=first, date__lte=first + 13 * DAY)
            .order_by()
            .annotate(n=Func(F("run_length"), function="MAX"))
            .values("n"),
            output_field=IntegerField(),
        )
        return Coalesce(longest, Value(0))

    def week(self, node: Mapping[str, Any], op: str, value: Any) -> Q:
        """The learner-local week of signing up, or of the first enrolment (in "course")."""
        if node["field"] == "signup_week":
            if op == "is_set":
                return TRUE if value else FALSE

            def signed_up(lo: datetime.datetime, hi: datetime.datetime) -> Q:
                return Q(date_joined__gte=lo, date_joined__lt=hi)

            condition = signed_up
        else:
            rows = _mine(Enrollment)
            if "course" in node:
                rows = rows.filter(course__external_id=node["course"])
            if op == "is_set":
                return Q(Exists(rows)) if value else ~Q(Exists(rows))

            def condition(lo: datetime.datetime, hi: datetime.datetime) -> Q:
                return Q(Exists(rows.filter(enrolled_at__gte=lo, enrolled_at__lt=hi))) & ~Q(
                    Exists(rows.filter(enrolled_at__lt=lo))
                )

        weeks = value if op == "in" else [value]
        return functools.reduce(
            lambda a, b: a | b, (self.in_local_week(monday, condition) for monday in weeks)
        )

    def streak_at_risk(self) -> Q:
        tail = self.alias(("streak_tail",), lambda: self._tail("date"))
        length = self.alias(("streak_length",), lambda: self._tail("run_length"))
        return self._alive() & Q(**{f"{length}__gte": 1, f"{tail}__lt": self.local_day(0)})

    def delivered(self, node: Mapping[str, Any]) -> Q:
        flag = {"sent": "sent_at", "opened": "opened_at", "clicked": "clicked_at"}
        rows = _mine(Delivery).filter(**{f"{flag[DELIVERY_FIELDS[node['field']]]}__isnull": False})
        if "campaign" in node:
            rows = rows.filter(source__startswith=f"campaign:{node['campaign']}:")
        if "template" in node:
            rows = rows.filter(template__slug=node["template"])
        return Q(Exists(rows))

    def enrolled(self, node: Mapping[str, Any], op: str, value: Any) -> Q:
        rows = _mine(Enrollment)
        if node["field"] == "course":
            column = "course__external_id"
        else:
            column = "status"
            if "course" in node:
                rows = rows.filter(course__external_id=node["course"])
        if op == "is_set":
            return Q(Exists(rows)) if value else ~Q(Exists(rows))
        lookup = f"{column}__in" if op == "in" else column
        return Q(Exists(rows.filter(**{lookup: value})))

    def days(self, field: str, op: str, value: Any) -> Q:
        """Whole days since a moment L, d = max(0, floor((now - L) / 24 h)), compiled to
        comparisons of L with instants: d >= n is L <= now - n days, d <= n is
        L > now - (n + 1) days."""
        if field == "days_since_signup":
            before = lambda t: Q(date_joined__lte=t)  # noqa: E731
            after = lambda t: Q(date_joined__gt=t)  # noqa: E731
            is_set = TRUE
        elif field == "days_inactive":  # L: the last event, or signing up when none
            events = _mine(Event)

            def before(t: datetime.datetime) -> Q:
                # The cheap column first: PostgreSQL evaluates an OR left to right.
                return ~Q(Exists(events.filter(occurred_at__gt=t))) & (
                    Q(date_joined__lte=t) | Q(Exists(events))
                )

            def after(t: datetime.datetime) -> Q:
                return Q(Exists(events.filter(occurred_at__gt=t))) | (
                    Q(date_joined__gt=t) & ~Q(Exists(events))
                )

            is_set = TRUE
        else:  # days_since_last_message, L: the last message sent (none: not set)
            sent = _mine(Delivery).filter(sent_at__isnull=False)
            is_set = Q(Exists(sent))

            def before(t: datetime.datetime) -> Q:
                return is_set & ~Q(Exists(sent.filter(sent_at__gt=t)))

            def after(t: datetime.datetime) -> Q:
                return Q(Exists(sent.filter(sent_at__gt=t)))

        if op == "is_set":
            return is_set if value else ~is_set
        low, high = {
            "=": (value, value),
            ">": (value + 1, None),
            ">=": (value, None),
            "<": (0, value - 1),
            "<=": (0, value),
        }[op]
        if high is not None and high < max(low, 0):
            return FALSE
        condition = is_set
        if low > 0:
            condition &= before(self.now - low * DAY)
        if high is not None:
            condition &= after(self.now - (high + 1) * DAY)
        return condition


def _audience(filter: Any, compiler: _Compiler) -> QuerySet[User]:
    errors = filter_errors(filter, check_references=False)
    if errors:
        raise DomainValidationError(errors)
    learners = _learners()
    if not filter:
        return learners
    condition = compiler.node(filter)
    if compiler.aliases:
        learners = learners.alias(**compiler.aliases)
    return learners.filter(condition)


def audience_users(*, filter: Any, now: datetime.datetime) -> QuerySet[User]:
    """The active students `filter` selects at `now` (None or {}: all of them), as one query.

    Raises DomainValidationError for an invalid filter. A course, campaign or template the
    filter names that no longer exists matches nobody. One query first when the filter names
    risk, risk_level or a signal (the current scoring run).
    """
    return _audience(filter, _Compiler(now))


def audience_count(*, filter: Any, now: datetime.datetime) -> int:
    """How many learners `filter` selects at `now` (one COUNT, after the run's query if any)."""
    return audience_users(filter=filter, now=now).count()


def audience_preview(
    *, filter: Any, now: datetime.datetime, limit: int = 10
) -> list[dict[str, Any]]:
    """The first `limit` learners `filter` selects, by id: id, external_id, name, email,
    timezone and risk (their current learner-level risk, None if not scored). Two queries:
    the current run, then the learners with their risk."""
    compiler = _Compiler(now)
    risk = Subquery(compiler.scores().order_by("-drop_off_risk").values("drop_off_risk")[:1])
    rows = (
        _audience(filter, compiler)
        .order_by("pk")
        .annotate(risk=risk)
        .values("pk", "external_id", "first_name", "last_name", "email", "timezone", "risk")[:limit]
    )
    return [
        {
            "id": row["pk"],
            "external_id": row["external_id"],
            "name": f"{row['first_name']} {row['last_name']}".strip(),
            "email": row["email"],
            "timezone": row["timezone"],
            "risk": row["risk"],
        }
        for row in rows
    ]
