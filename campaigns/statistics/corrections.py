"""Multiple-testing corrections across the treatments of one experiment."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def holm_bonferroni(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm-adjusted p-values, in the order given; reject where adjusted < alpha.

    The step-down rule controls the family-wise error rate at alpha for any dependence
    between the tests, and rejects at least what Bonferroni rejects. The i-th smallest
    p-value (from 0) is multiplied by (m - i), kept monotone and capped at 1.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return ()
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return tuple(float(x) for x in adjusted)
