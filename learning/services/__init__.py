"""Writes of `learning`, the app's public interface for other apps.

`catalogue`: natural-key upserts of courses, lessons and enrollments, and the provisional ones
created for what events name before any sync. `live_sessions`: live sessions, registrations
and attendance. `progress`: lesson progress and enrollment status folded in from activity.
Import from here; the modules are the layout, not the API.
"""

from learning.services.catalogue import (
    courses_ensure_provisional,
    courses_upsert,
    enrollments_ensure_provisional,
    enrollments_upsert,
    lessons_ensure_provisional,
    lessons_upsert,
)
from learning.services.live_sessions import (
    live_attendance_record,
    live_registrations_upsert,
    live_sessions_upsert,
)
from learning.services.progress import (
    ProgressRow,
    enrollments_record_status,
    lesson_progress_merge,
    lesson_progress_record,
    progress_percent,
)

__all__ = [
    "ProgressRow",
    "courses_ensure_provisional",
    "courses_upsert",
    "enrollments_ensure_provisional",
    "enrollments_record_status",
    "enrollments_upsert",
    "lesson_progress_merge",
    "lesson_progress_record",
    "lessons_ensure_provisional",
    "lessons_upsert",
    "live_attendance_record",
    "live_registrations_upsert",
    "live_sessions_upsert",
    "progress_percent",
]
