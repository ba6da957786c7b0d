"""The relative difference of a treatment against control, and its delta-method variance.

Both engines start here. The uplift is (treatment mean - control mean) / control mean; its
variance comes from the delta method with the unadjusted means:

    Var = var_t / (mean_c^2 n_t) + var_c mean_t^2 / (mean_c^4 n_c)

For ``CupedStatistic`` the means and variances are first adjusted with one theta for the
pair (``cuped.cuped_theta``): mean - theta * mean_x and var_y + theta^2 var_x - 2 theta cov.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from campaigns.statistics.cuped import adjusted_moments, cuped_theta
from campaigns.statistics.summaries import (
    CupedStatistic,
    MeanStatistic,
    Number,
    ProportionStatistic,
    Statistic,
    as_number,
)


@dataclass(frozen=True)
class Difference:
    """A relative uplift with what the tests need to judge it.

    ``valid`` is False where nothing can be said (a control mean of zero, or a variant with
    no variance); ``estimate`` and ``variance`` are then 0 and the tests answer their
    uninformative defaults, as gbstats does.
    """

    estimate: Number
    variance: Number
    dof: Number
    n_total: Number
    valid: bool | npt.NDArray[np.bool_]


def relative_difference(control: Statistic, treatment: Statistic) -> Difference:
    """The relative uplift of ``treatment`` over ``control`` and its delta-method variance."""
    if type(control) is not type(treatment):
        raise TypeError("control and treatment must be statistics of the same kind")
    n_c = np.asarray(control.n, dtype=float)
    n_t = np.asarray(treatment.n, dtype=float)
    raw_c = np.asarray(control.mean, dtype=float)
    raw_t = np.asarray(treatment.mean, dtype=float)
    if isinstance(control, CupedStatistic):
        theta = np.asarray(cuped_theta(control, treatment), dtype=float)
        mean_c, var_c = adjusted_moments(control, theta)
        mean_t, var_t = adjusted_moments(treatment, theta)
    else:
        assert isinstance(control, ProportionStatistic | MeanStatistic)
        mean_c, var_c = raw_c, np.asarray(control.variance, dtype=float)
        mean_t, var_t = raw_t, np.asarray(treatment.variance, dtype=float)

    valid = (mean_c != 0) & (raw_c != 0) & (var_c > 0) & (var_t > 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        estimate = (mean_t - mean_c) / raw_c
        variance = var_t / (raw_c**2 * n_t) + var_c * raw_t**2 / (raw_c**4 * n_c)
        dof = (var_t / n_t + var_c / n_c) ** 2 / (
            var_t**2 / (n_t**2 * (n_t - 1)) + var_c**2 / (n_c**2 * (n_c - 1))
        )
    return Difference(
        estimate=as_number(np.where(valid, estimate, 0.0)),
        variance=as_number(np.where(valid, variance, 0.0)),
        dof=as_number(np.where(valid, dof, 1.0)),
        n_total=as_number(n_c + n_t),
        valid=bool(valid) if np.ndim(valid) == 0 else valid,
    )
