"""Stride's own segments, installed by migration 0002 (and again by
`segments_predefined_install` where a test's flush or a fresh demo database emptied them).
Each is (slug, name, description, filter in the campaigns filter language)."""

PREDEFINED_SEGMENTS = [
    ("all-learners", "All learners", "Every active student.", {}),
    (
        "at-risk",
        "At risk",
        "Learners whose current drop-off risk is 60 or more.",
        {"field": "risk", "op": ">=", "value": 60},
    ),
    (
        "inactive-7-days",
        "Inactive 7 days",
        "No activity for 7 days or more.",
        {"field": "days_inactive", "op": ">=", "value": 7},
    ),
    (
        "inactive-30-days",
        "Inactive 30 days",
        "No activity for 30 days or more.",
        {"field": "days_inactive", "op": ">=", "value": 30},
    ),
    (
        "never-started",
        "Never started",
        "Enrolled learners the risk model scores as never having started (no activity).",
        {"field": "signal", "name": "never_started", "op": "=", "value": 1},
    ),
    (
        "enrolled",
        "Enrolled in a course",
        "Learners with an active enrolment in any course.",
        {"field": "enrollment_status", "op": "=", "value": "active"},
    ),
    (
        "streak-at-risk",
        "Streak at risk today",
        "A live streak and nothing yet today in the learner's timezone.",
        {"field": "streak_at_risk", "op": "=", "value": True},
    ),
    (
        "level-5-plus",
        "Level 5 and above",
        "Learners at level 5 or higher.",
        {"field": "level", "op": ">=", "value": 5},
    ),
]
