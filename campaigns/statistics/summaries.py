"""Per-variant summary statistics: the sums an experiment's SQL produces, one row per variant.

Each is a frozen dataclass of sums over the variant's learners, so that variants can be
summed, stored and compared without the learner-level rows. The fields are numbers, or numpy
arrays of one shape (one element per experiment or per day) to analyse many at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Number = float | npt.NDArray[np.float64]
"""A float, or an array of floats analysed element by element."""


@dataclass(frozen=True)
class ProportionStatistic:
    """A binomial metric: ``n`` learners exposed, ``conversions`` of them converted."""

    n: Number
    conversions: Number

    @property
    def mean(self) -> Number:
        """The conversion rate (0 when nobody is exposed)."""
        return _ratio(self.conversions, self.n)

    @property
    def variance(self) -> Number:
        """The per-learner variance p(1 - p) of a Bernoulli outcome."""
        p = self.mean
        return p * (1 - p)


@dataclass(frozen=True)
class MeanStatistic:
    """A continuous metric: ``n`` learners, the ``sum`` and ``sum_squares`` of their values."""

    n: Number
    sum: Number
    sum_squares: Number

    @property
    def mean(self) -> Number:
        """The mean value per learner (0 when nobody is exposed)."""
        return _ratio(self.sum, self.n)

    @property
    def variance(self) -> Number:
        """The sample variance (n - 1 in the denominator; 0 below two learners)."""
        return _sample_variance(self.n, self.sum, self.sum_squares)


@dataclass(frozen=True)
class CupedStatistic:
    """A metric ``y`` with a pre-exposure covariate ``x`` per learner (CUPED).

    ``x`` is each learner's value of the same activity before exposure (for example lessons
    completed in the 14 days before). The sums are over the variant's ``n`` learners;
    ``sum_xy`` is the sum of the products x * y. ``binary_y`` (``binary_x``) says the values
    are 0 or 1, like "retained": the sum of squares then equals the sum, and the variance is
    p(1 - p) as for ``ProportionStatistic`` (gbstats's treatment of a binomial metric).
    """

    n: Number
    sum_x: Number
    sum_x2: Number
    sum_y: Number
    sum_y2: Number
    sum_xy: Number
    binary_y: bool = False
    binary_x: bool = False

    @property
    def mean(self) -> Number:
        """The unadjusted mean of ``y``."""
        return _ratio(self.sum_y, self.n)

    @property
    def variance(self) -> Number:
        """The unadjusted per-learner variance of ``y``."""
        if self.binary_y:
            p = self.mean
            return p * (1 - p)
        return _sample_variance(self.n, self.sum_y, self.sum_y2)

    @property
    def mean_x(self) -> Number:
        """The mean of the covariate."""
        return _ratio(self.sum_x, self.n)

    @property
    def variance_x(self) -> Number:
        """The per-learner variance of the covariate."""
        if self.binary_x:
            p = self.mean_x
            return p * (1 - p)
        return _sample_variance(self.n, self.sum_x, self.sum_x2)

    @property
    def covariance(self) -> Number:
        """The sample covariance of ``x`` and ``y``."""
        n = np.asarray(self.n, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            cov = (self.sum_xy - self.sum_x * self.sum_y / n) / (n - 1)
        return as_number(np.where(n > 1, cov, 0.0))

    def __add__(self, other: CupedStatistic) -> CupedStatistic:
        if (self.binary_y, self.binary_x) != (other.binary_y, other.binary_x):
            raise TypeError("a metric must be binary in every variant or in none")
        return CupedStatistic(
            n=self.n + other.n,
            sum_x=self.sum_x + other.sum_x,
            sum_x2=self.sum_x2 + other.sum_x2,
            sum_y=self.sum_y + other.sum_y,
            sum_y2=self.sum_y2 + other.sum_y2,
            sum_xy=self.sum_xy + other.sum_xy,
            binary_y=self.binary_y,
            binary_x=self.binary_x,
        )


Statistic = ProportionStatistic | MeanStatistic | CupedStatistic
"""Any per-variant summary; control and treatment of one comparison must be of one kind."""


def _ratio(numerator: Number, denominator: Number) -> Number:
    d = np.asarray(denominator, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.asarray(numerator, dtype=float) / d
    return as_number(np.where(d > 0, value, 0.0))


def _sample_variance(n: Number, total: Number, squares: Number) -> Number:
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (np.asarray(squares, dtype=float) - np.asarray(total, dtype=float) ** 2 / n) / (n - 1)
    return as_number(np.where(n > 1, var, 0.0))


def as_number(value: npt.ArrayLike) -> Number:
    """A 0-d result as a Python float, anything else as a float array."""
    array = np.asarray(value, dtype=float)
    return float(array) if array.ndim == 0 else array
