"""Sample-ratio mismatch: do the exposure counts match the weights the variants were given?

A mismatch (a Pearson chi-squared p-value below ``SRM_THRESHOLD``) means assignment or
exposure logging is broken, and no result of the experiment can be trusted until it is
explained. Variants with a weight of zero take no part in the statistic, as in gbstats.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    """The chi-squared p-value of the observed split and whether it is flagged."""

    p_value: float
    flagged: bool


def srm_check(
    users: Sequence[float], weights: Sequence[float], *, threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Test the observed ``users`` per variant against the expected ``weights`` (any scale)."""
    if len(users) != len(weights) or len(users) < 2:
        raise ValueError("srm_check needs one weight per variant and at least two variants")
    total = float(sum(users))
    if total <= 0:
        return SrmResult(p_value=1.0, flagged=False)
    total_weight = float(sum(weights))
    statistic = 0.0
    for observed, weight in zip(users, weights, strict=True):
        if weight <= 0:
            continue
        expected = weight / total_weight * total
        statistic += (observed - expected) ** 2 / expected
    p_value = float(stats.chi2.sf(statistic, len(users) - 1))
    return SrmResult(p_value=p_value, flagged=p_value < threshold)
