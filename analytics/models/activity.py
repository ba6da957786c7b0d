"""Who was active on which learner-local day, kept between aggregate runs (PostgreSQL)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class ActivityBitmap(models.Model):
    """The days of one 64-day word on which the learners were active in one course (or, with
    no course, in nothing that names one), as of the last aggregate run that counted them.

    Day d (learner-local) is bit (d - EPOCH) % 64 of word (d - EPOCH) // 64
    (analytics.services.activity_store). The learners and their bits are two parallel
    arrays of little-endian int64 (`learners` sorted): one row per course and word holds
    every learner, so a nightly run reads and writes a few rows, not one per learner.
    `covered`, on the row without a course, has the bits of the days whose activity is
    stored (for every course): a run uses the stored days only where they are all covered.
    """

    course = models.ForeignKey(
        "learning.Course", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    word = models.IntegerField()
    learners = models.BinaryField()
    bits = models.BinaryField()
    covered = models.BigIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["course", "word"],
                condition=Q(course__isnull=False),
                name="activity_bitmap_unique_course_word",
            ),
            models.UniqueConstraint(
                fields=["word"],
                condition=Q(course__isnull=True),
                name="activity_bitmap_unique_word_without_course",
            ),
        ]

    def __str__(self) -> str:
        return f"word {self.word} of course {self.course_id or '-'}"
