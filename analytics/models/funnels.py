"""Per-enrollment funnel progress, precomputed nightly, that the funnels page aggregates."""

from __future__ import annotations

from django.db import models


class FunnelProgress(models.Model):
    """When one enrollment reached each step of its course's funnel (empty: not yet).

    Steps: enrolled → started (any activity in the course) → first lesson completed → 25% /
    50% / 75% of the course's lessons completed → course completed. A learner's "k-th lesson"
    step is the time their k-th distinct lesson of the course was completed
    (LessonProgress.completed_at). One row per enrollment, so any enrollment-date range is a
    cohort the page can count without touching the event table.
    """

    enrollment = models.OneToOneField(
        "learning.Enrollment", on_delete=models.CASCADE, related_name="+"
    )
    course = models.ForeignKey("learning.Course", on_delete=models.CASCADE, related_name="+")
    enrolled_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    first_lesson_at = models.DateTimeField(null=True, blank=True)
    quarter_at = models.DateTimeField(null=True, blank=True)
    half_at = models.DateTimeField(null=True, blank=True)
    three_quarters_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["course", "enrolled_at"], name="funnel_course_enrolled")]

    def __str__(self) -> str:
        return f"funnel of enrollment {self.enrollment_id}"
