"""The learners' active days kept between aggregate runs (ActivityBitmap), on PostgreSQL.

An aggregate run of days start..end needs who was active on the 29 days before `start` too
(the MAU window of `start`). Those days were counted by an earlier run and have not changed
since (a run recomputes every day whose activity changed, in order, and the days after it
whose windows it is in), so the nightly run reads them from here instead of scanning their
events again: it scans the events of the days it recomputes only, and stores what it found
for the next run.

Days are numbered from EPOCH; word w holds days 64w .. 64w + 63, bit (d % 64) for day d. A
row per (course or none, word) holds every learner active in it as two parallel arrays of
little-endian int64 (learners sorted, and their bits). A run replaces the bits of the days
it scanned in the words they fall in (a learner no longer active on them loses their bits),
and marks those days covered on the word's row without a course. Where a day before the
range is not covered (the first run, or a backfill, which always scans them: it may run
while received events wait for the next refresh), the run scans it as before.
"""

from __future__ import annotations

import datetime

import numpy as np
from django.utils import timezone

from analytics.models import ActivityBitmap

EPOCH = datetime.date(2000, 1, 3)
WORD_BITS = 64
NO_COURSE = -1  # the course of activity that names none, in the arrays
_INT64 = np.dtype("<i8")

Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(learners, courses, words, bits): one entry per learner, course and word."""


def day_number(day: datetime.date) -> int:
    return (day - EPOCH).days


def day_of(number: int) -> datetime.date:
    return EPOCH + datetime.timedelta(days=number)


def empty_rows() -> Rows:
    none = np.empty(0, np.int64)
    return none, none, none, none


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def word_mask(word: int, first: int, last: int) -> int:
    """The bits (as a signed int64) of days first..last (day numbers) that fall in `word`."""
    lo = max(first, word * WORD_BITS) - word * WORD_BITS
    hi = min(last, word * WORD_BITS + WORD_BITS - 1) - word * WORD_BITS
    if hi < lo:
        return 0
    return _signed(((1 << (hi + 1)) - 1) ^ ((1 << lo) - 1))


def _words(first: int, last: int) -> range:
    return range(first // WORD_BITS, last // WORD_BITS + 1)


def stored_activity(first: datetime.date, last: datetime.date) -> Rows | None:
    """The stored activity of local days first..last (bits of other days cleared), or None
    when a day among them is not covered."""
    lo, hi = day_number(first), day_number(last)
    words = _words(lo, hi)
    rows = list(ActivityBitmap.objects.filter(word__in=list(words)))
    covered = {row.word: row.covered for row in rows if row.course_id is None}
    for word in words:
        need = word_mask(word, lo, hi)
        if covered.get(word, 0) & need != need:
            return None
    parts: list[Rows] = []
    for row in rows:
        learners = np.frombuffer(bytes(row.learners), _INT64)
        bits = np.frombuffer(bytes(row.bits), _INT64) & np.int64(word_mask(row.word, lo, hi))
        keep = bits != 0
        n = int(keep.sum())
        course = NO_COURSE if row.course_id is None else row.course_id
        parts.append(
            (
                learners[keep],
                np.full(n, course, np.int64),
                np.full(n, row.word, np.int64),
                bits[keep],
            )
        )
    return _concat(parts)


def _concat(parts: list[Rows]) -> Rows:
    if not parts:
        return empty_rows()
    return tuple(np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(4))  # type: ignore[return-value]


def _merge(learners: np.ndarray, bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One entry per learner (sorted), their bits ORed; learners left with none dropped."""
    if not len(learners):
        return learners, bits
    order = np.argsort(learners, kind="stable")
    learners, bits = learners[order], bits[order]
    starts = np.flatnonzero(np.r_[True, learners[1:] != learners[:-1]])
    merged = np.bitwise_or.reduceat(bits, starts)
    keep = merged != 0
    return learners[starts][keep], merged[keep]


def store_activity(first: datetime.date, last: datetime.date, rows: Rows) -> None:
    """Replace the stored activity of local days first..last with `rows` (whose bits are of
    those days only) and mark the days covered. Call it inside the run's transaction: the
    words' rows are locked until it ends, so concurrent runs write one after the other."""
    lo, hi = day_number(first), day_number(last)
    learners, courses, words, bits = rows
    now = timezone.now()
    for word in _words(lo, hi):
        mask = np.int64(word_mask(word, lo, hi))
        old = {
            row.course_id: row
            for row in ActivityBitmap.objects.select_for_update().filter(word=word)
        }
        mine = words == word
        new: dict[int | None, ActivityBitmap] = {}
        course_ids = {None if c == NO_COURSE else int(c) for c in np.unique(courses[mine])}
        for course_id in course_ids | set(old) | {None}:
            here = mine & (courses == (NO_COURSE if course_id is None else course_id))
            kept_learners = kept_bits = np.empty(0, np.int64)
            covered = 0
            if course_id in old:
                row = old[course_id]
                kept_learners = np.frombuffer(bytes(row.learners), _INT64)
                kept_bits = np.frombuffer(bytes(row.bits), _INT64) & ~mask
                covered = row.covered
            merged_learners, merged_bits = _merge(
                np.concatenate([kept_learners, learners[here]]),
                np.concatenate([kept_bits, bits[here]]),
            )
            if course_id is not None and not len(merged_learners):
                continue
            new[course_id] = ActivityBitmap(
                course_id=course_id,
                word=word,
                learners=merged_learners.astype(_INT64).tobytes(),
                bits=merged_bits.astype(_INT64).tobytes(),
                covered=int(np.int64(covered) | mask) if course_id is None else 0,
                computed_at=now,
            )
        ActivityBitmap.objects.filter(word=word).delete()
        ActivityBitmap.objects.bulk_create(new.values())
