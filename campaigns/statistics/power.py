"""The power and running-time calculator for the fixed-horizon test (``frequentist.ttest``).

For a relative effect ``mde`` on a baseline mean mu, the treatment mean is mu (1 + mde) and
the delta-method variance of the relative uplift with N learners in all, split by the
weights w, is c / N with

    c = var_t / (mu^2 w_t) + var_c (1 + mde)^2 / (mu^2 w_c)

The two-sided test at level alpha then has power Phi(d - z) + Phi(-d - z), where
d = |mde| / sqrt(c / N) and z = Phi^-1(1 - alpha / 2). Solving Phi(d - z) = power gives
N = c (z + z_power)^2 / mde^2, and every treatment must reach it, so the treatment with the
smallest weight sets the size. The normal approximation is the t-test's at the sample sizes
an experiment needs. ``alpha`` is per comparison: plan with alpha / (variants - 1) for a
Holm-corrected read of several treatments. The sequential test's interval is wider, so it
needs more learners than this to reach the same power at a fixed end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class ProportionBaseline:
    """A binomial metric's control rate, e.g. 0.12 for 12% of learners converting."""

    rate: float


@dataclass(frozen=True)
class MeanBaseline:
    """A continuous metric's control mean and per-learner variance (kept for the treatment)."""

    mean: float
    variance: float


Baseline = ProportionBaseline | MeanBaseline


@dataclass(frozen=True)
class SampleSize:
    """Learners needed per variant (in the weights' order), in all, and days at the traffic.

    ``days`` is None when no daily traffic was given or it is zero.
    """

    users_per_variant: tuple[int, ...]
    total_users: int
    days: int | None


def sample_size(
    *,
    baseline: Baseline,
    mde: float,
    alpha: float = 0.05,
    power: float = 0.8,
    variants: int = 2,
    weights: Sequence[float] | None = None,
    daily_users: float | None = None,
) -> SampleSize:
    """Learners per variant and days needed to detect a relative effect ``mde`` (0.1 = +10%).

    The first variant is control. ``weights`` (any scale; equal if None) must give one
    weight per variant. ``daily_users`` is the number of learners entering the experiment
    per day, all variants together.
    """
    shares = _shares(variants, weights)
    if mde == 0 or not 0 < power < 1 or not 0 < alpha < 1:
        raise ValueError("mde must be non-zero, alpha and power strictly between 0 and 1")
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    total = max(
        _variance_constant(baseline, mde, shares[0], share) * z**2 / mde**2 for share in shares[1:]
    )
    per_variant = tuple(math.ceil(total * share) for share in shares)
    total_users = sum(per_variant)
    days = math.ceil(total_users / daily_users) if daily_users else None
    return SampleSize(users_per_variant=per_variant, total_users=total_users, days=days)


def power_at(
    *,
    baseline: Baseline,
    mde: float,
    control_users: float,
    treatment_users: float,
    alpha: float = 0.05,
) -> float:
    """The chance that the two-sided test at ``alpha`` detects ``mde`` with these learners."""
    if control_users <= 0 or treatment_users <= 0:
        return 0.0
    total = control_users + treatment_users
    c = _variance_constant(baseline, mde, control_users / total, treatment_users / total)
    d = abs(mde) / math.sqrt(c / total)
    z = stats.norm.ppf(1 - alpha / 2)
    return float(stats.norm.cdf(d - z) + stats.norm.cdf(-d - z))


def _variance_constant(baseline: Baseline, mde: float, share_c: float, share_t: float) -> float:
    if isinstance(baseline, ProportionBaseline):
        mu = baseline.rate
        treated = mu * (1 + mde)
        if not 0 < mu < 1 or not 0 < treated < 1:
            raise ValueError("the baseline and treated rates must lie strictly between 0 and 1")
        var_c, var_t = mu * (1 - mu), treated * (1 - treated)
    else:
        mu = baseline.mean
        if mu == 0 or baseline.variance <= 0:
            raise ValueError("the baseline mean must be non-zero and its variance positive")
        var_c = var_t = baseline.variance
    return var_t / (mu**2 * share_t) + var_c * (1 + mde) ** 2 / (mu**2 * share_c)


def _shares(variants: int, weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        weights = [1.0] * variants
    if len(weights) != variants or variants < 2 or any(w <= 0 for w in weights):
        raise ValueError("give one positive weight per variant, at least two variants")
    total = float(sum(weights))
    return [w / total for w in weights]
