"""Deterministic, sticky assignment of a learner to an experiment's variant: a stable hash of
(experiment key, learner id) picks a point in [0, 1) and the variants' weights share it out.
No state is needed to answer the same variant again; the exposure log records what was shown.

It lives in core because two layers assign: campaigns (experiments, a campaign's arms) and
interventions (an automated rule's arms, which campaigns sets on the rule while an experiment
runs on it: interventions never reads campaigns' experiments)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def bucket(key: str, user_id: int) -> float:
    """The learner's point in [0, 1) for experiment `key`, the same in every process."""
    digest = hashlib.sha256(f"experiment:{key}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def variant_assign(key: str, user_id: int, variants: Sequence[tuple[str, float]]) -> str:
    """The variant of `variants` ((key, weight), weights >= 0, not all 0) for the learner."""
    total = sum(weight for _, weight in variants)
    point = bucket(key, user_id) * total
    for name, weight in variants:
        if point < weight:
            return name
        point -= weight
    return next(name for name, weight in reversed(variants) if weight > 0)
