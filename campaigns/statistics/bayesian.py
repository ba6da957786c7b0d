"""The Bayesian engine: a normal posterior for the relative uplift.

The likelihood of the uplift is normal, centred on the observed relative difference with its
delta-method variance (``comparison``). With the default improper (flat) prior the posterior
is that likelihood; a proper ``GaussianPrior`` on the relative uplift shrinks it by precision
weighting. From the posterior N(mu, sigma^2):

* chance to win = P(uplift > 0) = Phi(mu / sigma);
* risk of choosing control = E[max(uplift, 0)] = mu Phi(mu/sigma) + sigma phi(mu/sigma), the
  uplift given up on average by keeping control;
* risk of choosing treatment = E[max(-uplift, 0)], the loss expected if the treatment ships;
* the credible interval holds the central 1 - alpha of the posterior.

For a metric where lower is better (``lower_is_better``), "win" means the uplift is negative
and the two risks swap. This is gbstats 0.8.0's ``EffectBayesianABTest`` with its defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from campaigns.statistics.comparison import relative_difference
from campaigns.statistics.summaries import Number, Statistic, as_number


@dataclass(frozen=True)
class GaussianPrior:
    """A proper normal prior on the relative uplift (mean 0, variance 0.09: +-30% plausible)."""

    mean: float = 0.0
    variance: float = 0.09


@dataclass(frozen=True)
class BayesianResult:
    """The posterior of the relative uplift and what to decide from it.

    ``risk_control`` and ``risk_treatment`` are expected losses in relative terms (0.002 =
    0.2% of the control mean). ``valid`` is False where nothing can be said; the result is
    then chance 0.5, uplift 0, interval [0, 0] and no risk, as in gbstats.
    """

    chance_to_win: Number
    uplift: Number
    ci_low: Number
    ci_high: Number
    risk_control: Number
    risk_treatment: Number
    stddev: Number
    valid: bool | np.ndarray

    @property
    def ci(self) -> tuple[Number, Number]:
        """The credible interval as a (low, high) pair."""
        return (self.ci_low, self.ci_high)


def bayesian_test(
    control: Statistic,
    treatment: Statistic,
    *,
    alpha: float = 0.05,
    prior: GaussianPrior | None = None,
    lower_is_better: bool = False,
) -> BayesianResult:
    """Chance to beat control, expected losses and the 1 - alpha credible interval.

    ``prior`` None is the flat prior (gbstats's default).
    """
    diff = relative_difference(control, treatment)
    valid = np.asarray(diff.valid)
    data_mean = np.asarray(diff.estimate, dtype=float)
    data_var = np.where(valid, diff.variance, 1.0)
    if prior is None:
        mu, var = data_mean, data_var
    else:
        precision = 1 / data_var + 1 / prior.variance
        mu = (data_mean / data_var + prior.mean / prior.variance) / precision
        var = 1 / precision
    sigma = np.sqrt(var)
    z = mu / sigma
    gain = mu * stats.norm.cdf(z) + sigma * stats.norm.pdf(z)  # E[max(uplift, 0)]
    loss = -mu * stats.norm.cdf(-z) + sigma * stats.norm.pdf(z)  # E[max(-uplift, 0)]
    chance = stats.norm.cdf(z)
    if lower_is_better:
        chance, gain, loss = 1 - chance, loss, gain
    q = stats.norm.ppf(1 - alpha / 2)
    return BayesianResult(
        chance_to_win=as_number(np.where(valid, chance, 0.5)),
        uplift=as_number(np.where(valid, mu, 0.0)),
        ci_low=as_number(np.where(valid, mu - q * sigma, 0.0)),
        ci_high=as_number(np.where(valid, mu + q * sigma, 0.0)),
        risk_control=as_number(np.where(valid, gain, 0.0)),
        risk_treatment=as_number(np.where(valid, loss, 0.0)),
        stddev=as_number(np.where(valid, sigma, 0.0)),
        valid=diff.valid,
    )
