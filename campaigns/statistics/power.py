"""The power and running-time calculator: learners and days needed, and power at a sample.

For a relative effect ``mde`` on a baseline mean mu, the treatment mean is mu (1 + mde) and
the delta-method variance of the relative uplift with N learners in all, split by the
weights w, is c / N with

    c = var_t / (mu^2 w_t) + var_c (1 + mde)^2 / (mu^2 w_c)

For the fixed-horizon test (``frequentist.ttest``) at level alpha the power is
Phi(d - z) + Phi(-d - z), where d = |mde| / sqrt(c / N) and z = Phi^-1(1 - alpha / 2);
solving Phi(d - z) = power gives N = c (z + z_power)^2 / mde^2. The normal approximation is
the t-test's at the sample sizes an experiment needs.

For the sequential test (``frequentist.sequential_ttest``, ``test="sequential"``) z is
replaced by the confidence sequence's half-width at N in standard errors, which grows with
N; the power is that of the last look, so it understates the chance of stopping earlier,
and N is found numerically.

Every treatment must reach the power, so the treatment with the smallest weight sets the
size. ``alpha`` is per comparison: plan with alpha / (variants - 1) for a Holm-corrected
read of several treatments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from scipy import optimize, stats

from campaigns.statistics.frequentist import DEFAULT_SEQUENTIAL_TUNING

TestKind = Literal["fixed", "sequential"]


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
    test: TestKind = "fixed",
    tuning: float = DEFAULT_SEQUENTIAL_TUNING,
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
    total = 0.0
    for share in shares[1:]:
        c = _variance_constant(baseline, mde, shares[0], share)
        fixed = c * z**2 / mde**2
        if test == "fixed":
            total = max(total, fixed)
            continue

        def shortfall(n: float, c: float = c) -> float:
            return _power(mde, c, n, alpha, test, tuning) - power

        high = fixed * 2
        while shortfall(high) < 0:
            high *= 2
        total = max(total, optimize.brentq(shortfall, fixed, high, xtol=0.5))
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
    test: TestKind = "fixed",
    tuning: float = DEFAULT_SEQUENTIAL_TUNING,
) -> float:
    """The chance that the two-sided test at ``alpha`` detects ``mde`` with these learners."""
    if control_users <= 0 or treatment_users <= 0:
        return 0.0
    total = control_users + treatment_users
    c = _variance_constant(baseline, mde, control_users / total, treatment_users / total)
    return _power(mde, c, total, alpha, test, tuning)


def minimum_detectable_effect(
    *,
    baseline: Baseline,
    control_users: float,
    treatment_users: float,
    alpha: float = 0.05,
    power: float = 0.8,
    test: TestKind = "fixed",
    tuning: float = DEFAULT_SEQUENTIAL_TUNING,
) -> float:
    """The smallest relative increase these learners detect with ``power`` (0.05 = +5%).

    For a proportion the answer is capped where the treated rate would reach 1.
    """
    if control_users <= 0 or treatment_users <= 0:
        raise ValueError("both variants need learners")

    def shortfall(mde: float) -> float:
        return (
            power_at(
                baseline=baseline,
                mde=mde,
                control_users=control_users,
                treatment_users=treatment_users,
                alpha=alpha,
                test=test,
                tuning=tuning,
            )
            - power
        )

    ceiling = 1 / baseline.rate - 1 - 1e-9 if isinstance(baseline, ProportionBaseline) else 1e6
    if shortfall(ceiling) < 0:
        return ceiling
    return float(optimize.brentq(shortfall, 1e-9, ceiling, xtol=1e-7))


def _power(mde: float, c: float, n: float, alpha: float, test: TestKind, tuning: float) -> float:
    d = abs(mde) / math.sqrt(c / n)
    if test == "fixed":
        z = stats.norm.ppf(1 - alpha / 2)
    elif test == "sequential":
        # The half-width of the confidence sequence in standard errors (frequentist.py).
        rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
        spread = n * rho2 + 1
        z = math.sqrt(2 * spread * math.log(math.sqrt(spread) / alpha) / (n * rho2))
    else:
        raise ValueError(f"unknown test {test!r}")
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
