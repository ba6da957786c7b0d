"""Pure metrics for the risk model: discrimination, calibration, precision and lead time."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

HIGH_RISK_SCORE = 60.0  # "high" and "critical" bands start here on the 0-100 scale


def evaluate(
    y_true: np.ndarray, p: np.ndarray, *, sample_weight: np.ndarray | None = None
) -> dict[str, Any]:
    """Return ROC AUC, PR AUC, Brier, a 10-bin calibration table and precision at the top 10 %.

    AUCs are nan when only one class is present. Ranking metrics use ``p`` as given (any score
    works); Brier and the calibration table clip it to [0, 1] and list the equal-width bins of
    predicted probability that hold at least one example.
    """
    y = np.asarray(y_true, dtype=np.float64)
    score = np.asarray(p, dtype=np.float64)  # ranking metrics accept any score, e.g. recency
    p = np.clip(score, 0.0, 1.0)
    w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    n = int(y.shape[0])
    both = n > 0 and y.min() != y.max()
    nan = float("nan")
    result: dict[str, Any] = {
        "n": n,
        "positive_rate": float(np.average(y, weights=w)) if n else nan,
        "roc_auc": float(roc_auc_score(y, score, sample_weight=w)) if both else nan,
        "pr_auc": float(average_precision_score(y, score, sample_weight=w)) if both else nan,
        "brier": float(brier_score_loss(y, p, sample_weight=w)) if n else nan,
    }
    bins = np.minimum((p * 10).astype(np.int64), 9)
    table = []
    for b in range(10):
        m = bins == b
        if m.any():
            table.append(
                {
                    "bin": f"{b / 10:.1f}-{(b + 1) / 10:.1f}",
                    "mean_predicted": float(np.average(p[m], weights=w[m])),
                    "observed_rate": float(np.average(y[m], weights=w[m])),
                    "count": int(m.sum()),
                }
            )
    result["calibration"] = table
    result["precision_at_10pct"] = precision_at(y, score, 0.10)
    return result


def precision_at(y_true: np.ndarray, p: np.ndarray, share: float) -> float:
    """Return the positive rate among the top ``share`` of examples by ``p`` (at least one)."""
    n = len(y_true)
    if n == 0:
        return float("nan")
    k = max(1, round(n * share))
    top = np.argsort(-np.asarray(p), kind="stable")[:k]
    return float(np.asarray(y_true, dtype=np.float64)[top].mean())


def lead_time(
    scores_3d_before: np.ndarray,
    scores_7d_before: np.ndarray,
    *,
    threshold: float = HIGH_RISK_SCORE,
) -> dict[str, float]:
    """Return the share of dropped-off learners already flagged (score >= threshold) before leaving.

    Both arrays hold, per dropped-off learner, the 0-100 risk score they had 3 and 7 days before
    their last activity (nan where they had no score then; those are left out of that share).
    """
    result: dict[str, float] = {"threshold": float(threshold)}
    for label, scores in (("3d", scores_3d_before), ("7d", scores_7d_before)):
        s = np.asarray(scores, dtype=np.float64)
        s = s[np.isfinite(s)]
        result[f"n_{label}"] = float(s.size)
        result[f"share_flagged_{label}"] = (
            float((s >= threshold).mean()) if s.size else float("nan")
        )
    return result
