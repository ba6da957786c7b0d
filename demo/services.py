"""Demo data written through the same services the API uses, so it is valid by construction."""

import contextlib
import datetime
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Subquery, Sum
from django.utils import timezone

from accounts.models import User
from accounts.services import users_upsert
from analytics.services.nightly import analytics_refresh
from core.errors import DomainValidationError
from core.records import XpEntryRecord
from demo.behaviour import DemoLearner, archetype_pick, learner_events
from demo.campaigns import demo_campaigns_run
from demo.first_week import demo_first_week
from demo.insights import demo_insights_seed
from demo.interventions import demo_interventions_send
from demo.live_sessions import demo_live_sessions_seed
from demo.performers import demo_performers_analyse
from demo.reports import demo_reports_subscribe
from demo.video import demo_video_seed
from engagement.selectors.dashboard import scoring_run_current
from engagement.services.alerts import alerts_evaluate
from engagement.services.ingestion import events_ingest
from engagement.services.profiles import profiles_refresh
from engagement.services.scoring import active_risk_model, scoring_run_start
from engagement.services.training import risk_model_train
from gamification.models import (
    AchievementUnlock,
    LeagueMembership,
    LeagueWeek,
    LearnerGameProfile,
    RewardUse,
    XpTransaction,
)
from gamification.selectors.leagues import week_closes_at, week_start
from gamification.services.achievements import (
    achievements_evaluate_all,
    achievements_rarity_recompute,
)
from gamification.services.leagues import leagues_record, leagues_rollover
from gamification.services.rewards import reward_grant
from gamification.services.streaks import streak_at_risk_moments_record, streaks_settle
from gamification.services.xp import xp_grant
from learning.models import Enrollment
from learning.services import courses_upsert, enrollments_upsert, lessons_upsert

TIMEZONES = (
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Africa/Lagos",
    "UTC",
)
FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloe",
    "Dev",
    "Elif",
    "Femi",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Yara",
    "Zoe",
)
LAST_NAMES = (
    "Adeyemi",
    "Bauer",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Hansen",
    "Ito",
    "Jensen",
    "Kim",
    "Lopez",
    "Müller",
    "Novak",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Weber",
)
COURSES = (
    ("Python for Data Analysis", 12),
    ("Machine Learning Foundations", 14),
    ("Web Development with Django", 10),
    ("Statistics Without Tears", 8),
    ("UX Design Essentials", 9),
    ("Cloud Computing 101", 11),
)
INSTRUCTORS = (("Marta", "Lindqvist"), ("Samuel", "Owusu"), ("Keiko", "Arai"))


DEMO_EVENT_SOURCE = "demo"
EVENT_BATCH = 5000
# Gamification: the league weeks the demo plays out before this one (each closed in turn, with
# promotions and demotions, as the weekly beat closes them), the share of students who got a
# streak freeze as a welcome gift when they enrolled, and the few a coach gave XP by hand.
LEAGUE_WEEKS = 4
FREEZE_GIFT_EVERY = 4  # every fourth student
STAFF_GRANTS = (
    ("demo-student-00002", 150, "Helped other learners in the course forum"),
    ("demo-student-00005", 100, "Presented their project at the live session"),
    ("demo-student-00009", 75, "Reported a mistake in a quiz"),
)


@dataclass(frozen=True)
class DemoSummary:
    instructors: int
    courses: int
    lessons: int
    students: int
    enrollments: int
    events: int
    new_events: int
    scored: int
    alerts: int
    model_version: int | None
    learners_with_xp: int = 0
    xp_awarded: int = 0
    achievements_unlocked: int = 0
    freezes_used: int = 0
    league_weeks_closed: int = 0
    promoted: int = 0
    sign_in_student: str | None = None  # a busy demo student, to sign in as
    messages_sent: int = 0
    messages_read: int = 0
    messages_clicked: int = 0
    messages_converted: int = 0
    campaigns: int = 0  # demo campaigns made (0 on a rerun)
    video_views: int = 0  # demo views of the demo lesson video (0 on a rerun or without ffmpeg)
    analytics_days: int = 0  # learner-local days the analytics refresh recomputed


Progress = Callable[[str, int, int], None]


def demo_seed(
    *,
    students: int = 200,
    days: int = 60,
    seed: int = 7,
    progress: Progress | None = None,
) -> DemoSummary:
    """Create or refresh demo catalogue, learners and their behaviour; twice changes nothing.

    Every row and event has a fixed id derived from its number, and the random choices come
    from `seed`, so a second run upserts the same rows and ingestion drops the replayed events
    as duplicates. Behaviour then flows on as in production: the same events earn XP, levels,
    streaks and achievements through ingestion; a few students got a welcome streak freeze
    and a few a coach's XP; the last LEAGUE_WEEKS league weeks close one after the other with
    promotions; a model is trained on the demo's own history, every learner is scored, alerts
    are raised and profiles refreshed. `progress(stage, done, total)` reports each stage.
    """
    rng = random.Random(seed)
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)

    def step(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    instructors = [
        {
            "external_id": f"demo-instructor-{i + 1:02d}",
            "email": f"{first.lower()}.{last.lower()}@instructors.stride.local",
            "first_name": first,
            "last_name": last,
            "role": "instructor",
            "timezone": TIMEZONES[i],
        }
        for i, (first, last) in enumerate(INSTRUCTORS)
    ]
    users_upsert(items=instructors)

    courses, lessons = [], []
    for i, (title, lesson_count) in enumerate(COURSES):
        course_id = f"demo-course-{i + 1:02d}"
        self_paced = i % 3 == 2
        starts = (today - timedelta(days=days)).date()
        courses.append(
            {
                "external_id": course_id,
                "title": title,
                "description": f"A {lesson_count}-lesson course on {title.lower()}.",
                "instructor": instructors[i % len(instructors)]["external_id"],
                "starts_on": None if self_paced else starts,
                "ends_on": None if self_paced else starts + timedelta(days=days + 60),
            }
        )
        lessons += [
            {
                "external_id": f"{course_id}-lesson-{n + 1:02d}",
                "course": course_id,
                "position": n + 1,
                "title": f"{title}: part {n + 1}",
                "duration_seconds": rng.randint(6, 25) * 60,
            }
            for n in range(lesson_count)
        ]
    courses_upsert(items=courses)
    lessons_upsert(items=lessons)

    enrollments: list[dict[str, Any]] = []
    learners: list[DemoLearner] = []
    lessons_of = {
        course["external_id"]: tuple(
            lesson["external_id"] for lesson in lessons if lesson["course"] == course["external_id"]
        )
        for course in courses
    }
    batch: list[dict] = []
    for n in range(students):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        student_id = f"demo-student-{n + 1:05d}"
        batch.append(
            {
                "external_id": student_id,
                "email": f"{first.lower()}.{last.lower()}.{n + 1}@students.stride.local",
                "first_name": first,
                "last_name": last,
                "role": "student",
                "timezone": rng.choice(TIMEZONES),
            }
        )
        timezone_name = batch[-1]["timezone"]
        for course_index in rng.sample(range(len(COURSES)), k=rng.choice((1, 1, 2, 2, 3))):
            days_ago = rng.randint(0, days)
            course_id = courses[course_index]["external_id"]
            enrollments.append(
                {
                    "user": student_id,
                    "course": course_id,
                    "enrolled_at": today - timedelta(days=days_ago),
                }
            )
            learners.append(
                DemoLearner(
                    external_id=student_id,
                    timezone=timezone_name,
                    course=course_id,
                    lessons=lessons_of[course_id],
                    enrolled_on_day=days_ago,
                    archetype=archetype_pick(rng),
                )
            )
        if len(batch) == 500 or n == students - 1:
            users_upsert(items=batch)
            step("students", n + 1, students)
            batch = []
    enrollments_upsert(items=enrollments)
    # A learner signs up when they first enroll (the demo creates every account today), so
    # the signup cohorts spread over the history as a real platform's do.
    User.objects.filter(external_id__startswith="demo-student-").update(
        date_joined=Subquery(
            Enrollment.objects.filter(user=OuterRef("pk"))
            .order_by("enrolled_at")
            .values("enrolled_at")[:1]
        )
    )

    # Gamification runs on the same events: ingestion hands each stored batch to it (XP,
    # streaks, achievements, and after the commit the leaderboards and leagues). The demo's
    # first league week is opened before the rest of the behaviour arrives, so that the
    # weeks after it form their leagues with the tiers the weeks before them gave, as they
    # would have week after week (see _play_league_weeks).
    student_ids = dict(
        User.objects.filter(external_id__startswith="demo-student-").values_list(
            "external_id", "pk"
        )
    )
    _gift_freezes(learners, student_ids, today=today, days=days)
    first_week = _first_league_week(now, days)
    opened = _league_week_open(first_week, learners, now=now, seed=seed) if first_week else 0
    events, new_events = _ingest_behaviour(learners, now=now, seed=seed, step=step)
    new_events += opened
    if first_week is not None:
        _play_league_weeks(first_week, now=now)
    _staff_grants(student_ids)
    # What beat does hourly and nightly, done once now: spend freezes on the days missed
    # since the last activity, tell the learners whose streak is at risk, unlock what moved
    # without an event (the staff grants), and the achievements' rarity.
    streaks_settle(now=now)
    streak_at_risk_moments_record(now=now)
    achievements_evaluate_all()
    achievements_rarity_recompute()

    # Then as in production: train on the demo's own history (as a customer would after a
    # few weeks), score everyone, raise alerts. A rerun the same day reuses what it made.
    train_as_of = (now - timedelta(days=1)).date()
    _, version, _ = active_risk_model()
    if days >= 28 and (version is None or version.as_of != train_as_of):
        step("training", 0, 1)
        # With too little history yet, the transparent baseline scores.
        with contextlib.suppress(DomainValidationError):
            version = risk_model_train(as_of=train_as_of)
        step("training", 1, 1)
    model_version = version.version if version is not None else None
    run = scoring_run_current(as_of=now.date()) or scoring_run_start(execute_now=True)
    step("scoring", run.processed, run.total)
    alerts = alerts_evaluate()
    profiles_refresh()
    messages = demo_interventions_send(sorted(student_ids.values()), now=now, seed=seed)
    step("campaigns", 0, 1)
    campaigns = demo_campaigns_run(now=now, seed=seed)
    step("campaigns", 1, 1)
    step("video", 0, 1)
    video_views = demo_video_seed(seed=seed)
    step("video", 1, 1)
    # What beat does nightly: the analytics of every day the demo's history changed.
    step("analytics", 0, 1)
    refreshed = analytics_refresh()
    demo_performers_analyse()  # the nightly star performers (Performers page)
    demo_first_week()  # also when another refresh was under way and skipped the derive
    step("analytics", 1, 1)
    demo_reports_subscribe()
    demo_insights_seed()  # what beat writes on Mondays, from the refreshed aggregates
    demo_live_sessions_seed(now=now, seed=seed)
    return DemoSummary(
        instructors=len(instructors),
        courses=len(courses),
        lessons=len(lessons),
        students=students,
        enrollments=len(enrollments),
        events=events,
        new_events=new_events,
        scored=run.processed,
        alerts=alerts,
        model_version=model_version,
        **_gamification_figures(student_ids),
        messages_sent=messages["sent"],
        messages_read=messages["read"],
        messages_clicked=messages["clicked"],
        messages_converted=messages["converted"],
        campaigns=campaigns,
        video_views=video_views,
        analytics_days=refreshed.days if refreshed is not None else 0,
    )


def _ingest_behaviour(
    learners: Iterable[DemoLearner],
    *,
    now: Any,
    seed: int,
    step: Callable[[str, int, int], None],
) -> tuple[int, int]:
    """Generate each learner's events and ingest them in batches; return (seen, stored)."""
    learners = list(learners)
    batch: list[dict[str, Any]] = []
    seen = stored = 0
    # Behaviour stops at the hour: a rerun minutes later replays exactly the same events
    # (stopping at `now` let the second run add whatever fell between the two).
    until = now.replace(minute=0, second=0, microsecond=0)
    for index, learner in enumerate(learners):
        batch.extend(learner_events(learner, today=until, rng=_rng(seed, learner)))
        if len(batch) >= EVENT_BATCH or index == len(learners) - 1:
            result = events_ingest(source=DEMO_EVENT_SOURCE, items=batch)
            seen += len(batch)
            stored += result.accepted
            batch = []
            step("behaviour", index + 1, len(learners))
    return seen, stored


def _rng(seed: int, learner: DemoLearner) -> random.Random:
    # One generator per learner, seeded by who they are, so reruns replay the same events.
    return random.Random(f"{seed}-{learner.external_id}-{learner.course}")


# --- gamification -----------------------------------------------------------------------------


def _gift_freezes(
    learners: Iterable[DemoLearner],
    student_ids: dict[str, int],
    *,
    today: datetime.datetime,
    days: int,
) -> None:
    """A streak freeze for every FREEZE_GIFT_EVERY-th student, given when they enrolled, so
    that the streak service spends some of them on days they later miss."""
    enrolled: dict[str, int] = {}
    for learner in learners:
        enrolled[learner.external_id] = max(
            enrolled.get(learner.external_id, 0), learner.enrolled_on_day
        )
    for external_id, days_ago in sorted(enrolled.items()):
        number = int(external_id.rsplit("-", 1)[-1])
        if number % FREEZE_GIFT_EVERY or external_id not in student_ids:
            continue
        reward_grant(
            user_id=student_ids[external_id],
            reward_code="streak_freeze",
            source="welcome",
            reason="A welcome gift: one missed day will not break your streak",
            idempotency_key=f"demo:welcome-freeze:{external_id}",
            occurred_at=today - timedelta(days=min(days_ago, days)),
        )


def _first_league_week(now: datetime.datetime, days: int) -> datetime.date | None:
    """The Monday of the first league week the demo plays out (None for a short history)."""
    this_week = week_start(now.astimezone(datetime.UTC).date())
    weeks = min(LEAGUE_WEEKS, days // 7 - 1)
    return this_week - timedelta(weeks=weeks) if weeks > 0 else None


def _league_week_open(
    monday: datetime.date, learners: Iterable[DemoLearner], *, now: datetime.datetime, seed: int
) -> int:
    """Open the leagues of the demo's first league week, as its first XP opened them then.

    The earliest sign-in of the week (in every timezone's week: Tuesday or Wednesday UTC)
    is ingested on its own, and its ledger row handed to the leagues as the after-commit
    hand-over did at the time. From then on this week and the later ones take their
    learners only as the weeks before them close, exactly as in production. Returns the
    events stored (one, or none on a rerun).
    """
    if LeagueWeek.objects.filter(starts_on=monday).exists():
        return 0  # a rerun: the week was opened (and closed) before
    lo = datetime.datetime.combine(monday + timedelta(days=1), datetime.time(), datetime.UTC)
    hi = lo + timedelta(days=2)
    first = min(
        (
            event
            for learner in learners
            for event in learner_events(learner, today=now, rng=_rng(seed, learner))
            if event["type"] == "login" and lo <= event["occurred_at"] < hi
        ),
        key=lambda event: (event["occurred_at"], event["id"]),
        default=None,
    )
    if first is None:
        return 0
    stored = events_ingest(source=DEMO_EVENT_SOURCE, items=[first]).accepted
    rows = XpTransaction.objects.filter(
        local_date__gte=monday, local_date__lte=monday + timedelta(days=6), amount__gt=0
    ).order_by("id")
    entries = [
        XpEntryRecord(
            id=row.pk,
            user_id=row.user_id,
            kind=row.kind,
            action_code=row.action.code if row.action else None,
            amount=row.amount,
            course_id=row.course_id,
            occurred_at=row.occurred_at,
            local_date=row.local_date,
        )
        for row in rows.select_related("action")[:10]
    ]
    leagues_record(entries=entries, now=first["occurred_at"])
    return stored


def _play_league_weeks(first_week: datetime.date, *, now: datetime.datetime) -> int:
    """Close the demo's league weeks one after the other, each at its due time (Monday
    13:00 UTC after it), as the weekly beat would have: promotions, demotions, results,
    then the next week's leagues with the new tiers. Stops at the first week not yet due."""
    closed = 0
    week = first_week
    while True:
        at = week_closes_at(week) + timedelta(minutes=1)
        if at > now:
            return closed
        closed += len(leagues_rollover(now=at))
        week += timedelta(weeks=1)


def _staff_grants(student_ids: dict[str, int]) -> None:
    """A coach's hand-given XP for a few students, each with its written reason."""
    coach = (
        User.objects.filter(email=settings.STRIDE_DEMO_ADMIN_EMAIL, is_staff=True)
        .values_list("pk", flat=True)
        .first()
    )
    for external_id, amount, reason in STAFF_GRANTS:
        if external_id in student_ids:
            xp_grant(
                user_id=student_ids[external_id],
                amount=amount,
                reason=reason,
                granted_by_id=coach,
                idempotency_key=f"demo:staff-grant:{external_id}",
            )


def demo_busiest_student() -> User | None:
    """The demo student with the most XP (the first made among equals), to sign in as; None
    before `seed_demo` has run (one query)."""
    profile = (
        LearnerGameProfile.objects.filter(user__external_id__startswith="demo-student-")
        .select_related("user")
        .order_by("-total_xp", "user_id")
        .first()
    )
    return profile.user if profile is not None else None


def _gamification_figures(student_ids: dict[str, int]) -> dict[str, Any]:
    """What the demo's learners have to show: for the summary `seed_demo` prints."""
    ids = list(student_ids.values())
    totals = (
        XpTransaction.objects.filter(user_id__in=ids)
        .values("user_id")
        .annotate(xp=Sum("amount"))
        .order_by("-xp", "user_id")
        .values_list("user_id", "xp")
    )
    totals = list(totals)
    busiest = demo_busiest_student() if totals else None
    return {
        "learners_with_xp": len(totals),
        "xp_awarded": sum(xp for _, xp in totals),
        "achievements_unlocked": AchievementUnlock.objects.filter(user_id__in=ids).count(),
        "freezes_used": RewardUse.objects.filter(
            user_id__in=ids, reward__code="streak_freeze", refunded_at__isnull=True
        ).count(),
        "league_weeks_closed": LeagueWeek.objects.filter(status=LeagueWeek.Status.CLOSED).count(),
        "promoted": LeagueMembership.objects.filter(outcome="promoted").count(),
        "sign_in_student": busiest.external_id if busiest is not None else None,
    }
