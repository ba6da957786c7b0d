"""Who a manual send reaches: one learner, chosen learners, or the learners of the at-risk
list's filters."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import User
from engagement.selectors.dashboard import at_risk_list, scoring_run_current


@dataclass(frozen=True)
class Recipients:
    """The learners to message, each with the course of their riskiest matching enrolment."""

    course_of: dict[int, int | None]  # user id -> course id, riskiest first
    description: str

    @property
    def user_ids(self) -> list[int]:
        return list(self.course_of)


def recipients_for(
    *,
    user_id: int | None = None,
    user_ids: list[int] | None = None,
    threshold: int = 60,
    level: str | None = None,
    course: str | None = None,
    started: str | None = None,
) -> Recipients:
    """One learner (`user_id`), else everyone on the current run's at-risk list with these
    filters: one message per learner, about their riskiest enrolment (one query). Chosen
    learners (`user_ids`, e.g. from the admin's list) get a message each, about the course
    driving their risk."""
    if user_ids is not None:
        if not user_ids:
            return Recipients({}, "nobody (the selection has expired; choose the learners again)")
        found = list(
            User.objects.filter(pk__in=user_ids).order_by("pk").values_list("pk", flat=True)
        )
        count = len(found)
        return Recipients(
            dict.fromkeys(found), f"{count} chosen learner{'s' if count != 1 else ''}"
        )
    if user_id is not None:
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            return Recipients({}, "nobody (no such learner)")
        return Recipients({user.pk: None}, user.get_full_name() or user.email)
    rows = at_risk_list(
        run=scoring_run_current(),
        threshold=threshold,
        level=level or None,
        course=course or None,
        started=started or None,
    ).values_list("user_id", "course_id")
    course_of: dict[int, int | None] = {}
    for uid, cid in rows:  # riskiest first
        course_of.setdefault(uid, cid)
    parts = [f"risk at least {threshold}"]
    if level:
        parts.append(f"level {level}")
    if course:
        parts.append(f"course {course}")
    if started:
        parts.append({"never": "never started", "started": "started"}.get(started, started))
    return Recipients(course_of, "learners on the at-risk list with " + ", ".join(parts))
