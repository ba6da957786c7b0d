"""The numerical core of watch analytics: coverage merging and the retention curve. No Django.

Buckets are whole numbers (seconds, or percents of long videos); an interval is an inclusive
pair [first, last] of buckets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

Interval = tuple[int, int]


def split_new(
    coverage: Sequence[Sequence[int]], first: int, last: int
) -> tuple[list[Interval], list[Interval], list[Interval]]:
    """Split [first, last] against a session's merged `coverage`.

    Answers (new pieces never seen by the session, re-watched pieces, the merged coverage with
    [first, last] added).
    """
    new: list[Interval] = []
    seen: list[Interval] = []
    cursor = first
    for a, b in coverage:
        if b < cursor or a > last:
            continue
        if a > cursor:
            new.append((cursor, a - 1))
        lo, hi = max(a, cursor), min(b, last)
        if lo <= hi:
            seen.append((lo, hi))
        cursor = max(cursor, b + 1)
        if cursor > last:
            break
    if cursor <= last:
        new.append((cursor, last))
    merged: list[list[int]] = []
    for a, b in sorted([*map(tuple, coverage), (first, last)]):
        if merged and a <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return new, seen, [(a, b) for a, b in merged]


def covered(coverage: Iterable[Sequence[int]]) -> int:
    return sum(b - a + 1 for a, b in coverage)


def curve(
    starts: Iterable[tuple[int, int]], ends: Iterable[tuple[int, int]], buckets: int
) -> np.ndarray:
    """Count per bucket of intervals covering it, from (start bucket, count) and (end, count).

    A difference array: +count at each start, -count after each end, summed up.
    """
    diff = np.zeros(buckets + 1, dtype=np.int64)
    for bucket, count in starts:
        if 0 <= bucket < buckets:
            diff[bucket] += count
    for bucket, count in ends:
        diff[min(max(bucket, 0), buckets - 1) + 1] -= count
    return np.cumsum(diff[:buckets])


@dataclass(frozen=True)
class Segment:
    first: int
    last: int
    value: float


def biggest_drops(shares: Sequence[float], *, top: int = 3) -> list[Segment]:
    """The buckets where the share of viewers falls the most, largest fall first."""
    drops = [
        Segment(first=i, last=i + 1, value=float(shares[i] - shares[i + 1]))
        for i in range(len(shares) - 1)
        if shares[i] > shares[i + 1]
    ]
    drops.sort(key=lambda s: (-s.value, s.first))
    return drops[:top]


def hot_segments(counts: Sequence[int], *, top: int = 3) -> list[Segment]:
    """Runs of consecutive buckets re-watched, by total re-watches, most first."""
    runs: list[Segment] = []
    start = None
    for i, count in enumerate([*counts, 0]):
        if count > 0 and start is None:
            start = i
        elif count <= 0 and start is not None:
            runs.append(Segment(first=start, last=i - 1, value=float(sum(counts[start:i]))))
            start = None
    runs.sort(key=lambda s: (-s.value, s.first))
    return runs[:top]
