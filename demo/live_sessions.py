"""The demo's live sessions: weekly sessions of the first courses over the last weeks with
their registrations and attendance (sent as events through ingestion), sessions tomorrow with
registrations, the no-show model's training attempt and the predictions, so the live-sessions
page has something true to show. A rerun the same hour changes nothing."""

from __future__ import annotations

import datetime
import random

from analytics.services.no_show import no_show_model_current, no_show_model_train, no_shows_predict
from engagement.services.alerts import alerts_evaluate
from engagement.services.ingestion import events_ingest
from gamification.services.achievements import achievements_evaluate_all
from gamification.services.streaks import streak_at_risk_moments_record, streaks_settle
from learning.models import Course, Enrollment
from learning.services import live_registrations_upsert, live_sessions_upsert

COURSES = 3
PAST_WEEKS = 8
DURATION_MINUTES = 50
SOURCE = "demo"


def _hour(course_index: int) -> int:
    # One course meets in the morning, the others in the evening (UTC), where more learners
    # miss sessions: a signal the trained model can find and the baseline cannot.
    return 10 if course_index == 0 else 18


def demo_live_sessions_seed(*, now: datetime.datetime, seed: int) -> dict[str, int]:
    """Schedule, register, attend, train and predict; return the counts made."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    today = hour.replace(hour=0)
    courses = list(
        Course.objects.filter(external_id__startswith="demo-course-").order_by("external_id")[
            :COURSES
        ]
    )
    learners = {
        course.pk: sorted(
            Enrollment.objects.filter(course=course).values_list("user__external_id", flat=True)
        )
        for course in courses
    }
    sessions, registrations, events = [], [], []
    for index, course in enumerate(courses):
        rng = random.Random(f"{seed}-live-{course.external_id}")
        # Every learner has their own habit of turning up.
        habit = {ext: rng.uniform(0.0, 0.35) for ext in learners[course.pk]}
        starts = [
            today - datetime.timedelta(weeks=w) + datetime.timedelta(hours=_hour(index))
            for w in range(PAST_WEEKS, 0, -1)
        ]
        starts.append(today + datetime.timedelta(days=1, hours=_hour(index)))
        for number, start in enumerate(starts):
            session = f"demo-live-{course.external_id}-{start:%Y%m%d}"
            upcoming = start > hour
            sessions.append(
                {
                    "external_id": session,
                    "course": course.external_id,
                    "title": f"{course.title}: live Q&A {number + 1}",
                    "starts_at": start,
                    "duration_minutes": DURATION_MINUTES,
                }
            )
            size = min(len(learners[course.pk]), rng.randint(10, 18))
            for ext in rng.sample(learners[course.pk], size):
                lead = rng.uniform(0.2, 12)
                registrations.append(
                    {
                        "session": session,
                        "user": ext,
                        "registered_at": min(
                            start - datetime.timedelta(days=lead),
                            hour - datetime.timedelta(hours=1),
                        ),
                    }
                )
                if upcoming:
                    continue
                evening = 0.2 if _hour(index) >= 18 else 0.0
                missed = rng.random() < habit[ext] + evening + 0.01 * lead
                events.append(
                    {
                        "id": f"{session}-{ext}",
                        "type": "live_session_missed" if missed else "live_session_attended",
                        "user": ext,
                        "course": course.external_id,
                        "occurred_at": (
                            start + datetime.timedelta(minutes=DURATION_MINUTES)
                        ).isoformat(),
                        "properties": {"live_session": session}
                        if missed
                        else {"live_session": session, "duration_seconds": 45 * 60},
                    }
                )
    if not sessions:
        return {"sessions": 0, "registrations": 0, "predicted": 0}
    live_sessions_upsert(items=sessions)
    live_registrations_upsert(items=registrations)
    for start in range(0, len(events), 500):
        events_ingest(source=SOURCE, items=events[start : start + 500])
    # Attending is activity: what beat does hourly on activity (streaks and their freezes,
    # achievements, the alert rules, which also read missed sessions) runs again now, as the
    # demo did for the rest of the behaviour, so that a rerun finds nothing new to do.
    streaks_settle(now=now)
    streak_at_risk_moments_record(now=now)
    achievements_evaluate_all()
    alerts_evaluate()
    # What beat does weekly, once a day here: a rerun reuses today's attempt.
    card = no_show_model_current()
    if card is None or card.trained_at.date() != hour.date():
        no_show_model_train(now=hour)
    predicted = no_shows_predict(now=hour)
    return {
        "sessions": len(sessions),
        "registrations": len(registrations),
        "predicted": predicted.predicted,
    }
