"""Reference answers from GrowthBook's engine gbstats 0.8.0 for Stride's experiment statistics.

gbstats pins numpy 1.26 and pandas 1.5, so it runs in its own virtualenv and never in the
project's; nothing in Stride imports this script. It writes every case's inputs and gbstats's
outputs to tests/campaigns/data/gbstats_reference.json, which
tests/campaigns/test_statistics.py checks campaigns.statistics against. From the repository
root:

    python3 -m venv /tmp/gbstats-venv
    /tmp/gbstats-venv/bin/pip install gbstats==0.8.0
    /tmp/gbstats-venv/bin/python scripts/gbstats_reference.py

The cases are fixed (the CUPED sums come from a seeded generator), so a rerun writes the
same file.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.gbstats import check_srm
from gbstats.models.statistics import (
    ProportionStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)

OUTPUT = Path(__file__).resolve().parent.parent / "tests/campaigns/data/gbstats_reference.json"

# (name, control (n, conversions), treatment (n, conversions))
BINOMIAL = [
    ("moderate n, positive", (1000, 100), (1000, 120)),
    ("small n", (50, 5), (52, 9)),
    ("tiny n", (12, 3), (11, 5)),
    ("large n, small lift", (1_000_000, 50_000), (1_000_000, 50_600)),
    ("negative effect", (5000, 600), (5000, 540)),
    ("unequal split", (2000, 300), (3000, 420)),
    ("rare events", (100_000, 12), (100_000, 25)),
    ("high rate", (4000, 3600), (4000, 3660)),
    ("null effect", (8000, 800), (8000, 800)),
    ("clear win", (20_000, 2000), (20_000, 2300)),
    ("zero conversions in control", (300, 0), (300, 4)),
]

# (name, control (n, sum, sum_squares), treatment (n, sum, sum_squares))
MEANS = [
    ("lessons, moderate n", (500, 1500.0, 6100.0), (510, 1650.0, 6900.0)),
    ("lessons, small n", (20, 48.0, 160.0), (22, 66.0, 250.0)),
    ("minutes, large n, negative", (200_000, 6_000_000.0, 2.2e8), (200_000, 5_940_000.0, 2.16e8)),
    ("skewed revenue", (3000, 4500.0, 90_000.0), (2900, 4800.0, 110_000.0)),
    ("zero variance", (10, 20.0, 40.0), (10, 30.0, 95.0)),
]


def cuped_cases() -> list[tuple[str, dict, dict]]:
    """Sums of seeded learner-level data: y correlates with the pre-exposure x."""
    rng = np.random.default_rng(20261203)
    cases = []
    for name, n, effect, rho in [
        ("cuped, strong covariate", 2000, 0.06, 0.7),
        ("cuped, weak covariate, negative", 800, -0.04, 0.2),
        ("cuped, large n", 50_000, 0.01, 0.5),
    ]:
        sums = []
        for lift in (0.0, effect):
            x = rng.gamma(2.0, 1.5, size=n)
            noise = rng.gamma(2.0, 1.5, size=n)
            y = (rho * x + np.sqrt(1 - rho**2) * noise) * (1 + lift)
            sums.append(
                {
                    "n": n,
                    "sum_x": float(x.sum()),
                    "sum_x2": float((x * x).sum()),
                    "sum_y": float(y.sum()),
                    "sum_y2": float((y * y).sum()),
                    "sum_xy": float((x * y).sum()),
                }
            )
        cases.append((name, sums[0], sums[1]))
    # Retention (0/1) after exposure, against lessons before (a count) and against being
    # active before (0/1): gbstats takes a ProportionStatistic for a binary side.
    for name, n, base, lift, binary_x in [
        ("cuped, retained vs lessons before", 3000, 0.3, 0.12, False),
        ("cuped, retained vs active before", 1500, 0.4, -0.1, True),
    ]:
        sums = []
        for effect in (0.0, lift):
            lessons = rng.poisson(2.0, size=n).astype(float)
            x = (lessons > 1).astype(float) if binary_x else lessons
            chance = np.clip((base + 0.1 * (lessons - 2.0)) * (1 + effect), 0, 1)
            y = (rng.uniform(size=n) < chance).astype(float)
            sums.append(
                {
                    "n": n,
                    "sum_x": float(x.sum()),
                    "sum_x2": float((x * x).sum()),
                    "sum_y": float(y.sum()),
                    "sum_y2": float((y * y).sum()),
                    "sum_xy": float((x * y).sum()),
                    "binary_y": True,
                    "binary_x": binary_x,
                }
            )
        cases.append((name, sums[0], sums[1]))
    return cases


def side(n: int, total: float, squares: float, binary: bool):
    """gbstats's statistic for one side of a CUPED metric."""
    if binary:
        return ProportionStatistic(n=n, sum=total)
    return SampleMeanStatistic(n=n, sum=total, sum_squares=squares)


SRM = [
    ("fair 2-way", [5000, 5040], [0.5, 0.5]),
    ("skewed 2-way", [5000, 5400], [0.5, 0.5]),
    ("fair 3-way", [3300, 3350, 3280], [1, 1, 1]),
    ("skewed 3-way", [3300, 3500, 3100], [1, 1, 1]),
    ("unequal weights", [1980, 8020], [0.2, 0.8]),
    ("unequal weights, skewed", [2300, 7700], [0.2, 0.8]),
    ("zero-weight variant", [5000, 5100, 30], [0.5, 0.5, 0.0]),
]


def frequentist(result) -> dict:
    return {
        "uplift": result.expected,
        "ci": list(result.ci),
        "p_value": result.p_value,
        "error": result.error_message,
    }


def bayesian(result) -> dict:
    return {
        "uplift": result.expected,
        "ci": list(result.ci),
        "chance_to_win": result.chance_to_win,
        "risk": list(result.risk),
        "error": result.error_message,
    }


def run(kind: str, name: str, make_a, make_b, inputs: dict) -> dict:
    """One comparison through every gbstats test (fresh statistics: CUPED mutates them)."""
    return {
        "kind": kind,
        "name": name,
        "inputs": inputs,
        "ttest": frequentist(TwoSidedTTest(make_a(), make_b()).compute_result()),
        "sequential": frequentist(SequentialTwoSidedTTest(make_a(), make_b()).compute_result()),
        "sequential_tuning_500": frequentist(
            SequentialTwoSidedTTest(
                make_a(), make_b(), SequentialConfig(sequential_tuning_parameter=500)
            ).compute_result()
        ),
        "bayesian": bayesian(EffectBayesianABTest(make_a(), make_b()).compute_result()),
        "bayesian_inverse": bayesian(
            EffectBayesianABTest(
                make_a(), make_b(), EffectBayesianConfig(inverse=True)
            ).compute_result()
        ),
        "bayesian_proper_prior": bayesian(
            EffectBayesianABTest(
                make_a(),
                make_b(),
                EffectBayesianConfig(
                    prior_effect=GaussianPrior(mean=0, variance=0.09, proper=True)
                ),
            ).compute_result()
        ),
    }


def main() -> None:
    cases = []
    for name, (na, ca), (nb, cb) in BINOMIAL:
        cases.append(
            run(
                "binomial",
                name,
                lambda na=na, ca=ca: ProportionStatistic(n=na, sum=ca),
                lambda nb=nb, cb=cb: ProportionStatistic(n=nb, sum=cb),
                {
                    "control": {"n": na, "conversions": ca},
                    "treatment": {"n": nb, "conversions": cb},
                },
            )
        )
    for name, a, b in MEANS:
        cases.append(
            run(
                "mean",
                name,
                lambda a=a: SampleMeanStatistic(n=a[0], sum=a[1], sum_squares=a[2]),
                lambda b=b: SampleMeanStatistic(n=b[0], sum=b[1], sum_squares=b[2]),
                {
                    "control": dict(zip(("n", "sum", "sum_squares"), a, strict=True)),
                    "treatment": dict(zip(("n", "sum", "sum_squares"), b, strict=True)),
                },
            )
        )
    for name, a, b in cuped_cases():

        def make(s=None):
            return RegressionAdjustedStatistic(
                n=s["n"],
                post_statistic=side(s["n"], s["sum_y"], s["sum_y2"], s.get("binary_y", False)),
                pre_statistic=side(s["n"], s["sum_x"], s["sum_x2"], s.get("binary_x", False)),
                post_pre_sum_of_products=s["sum_xy"],
                theta=0,
            )

        cases.append(
            run(
                "cuped",
                name,
                lambda a=a: make(a),
                lambda b=b: make(b),
                {"control": a, "treatment": b},
            )
        )
    srm = [
        {
            "name": name,
            "users": users,
            "weights": weights,
            "p_value": float(check_srm(users, weights)),
        }
        for name, users, weights in SRM
    ]
    document = {
        "generator": "scripts/gbstats_reference.py",
        "gbstats_version": importlib.metadata.version("gbstats"),
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "defaults": {"alpha": 0.05, "sequential_tuning_parameter": 5000, "prior": "improper"},
        "cases": cases,
        "srm": srm,
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")
    print(f"wrote {len(cases)} comparisons and {len(srm)} SRM cases to {OUTPUT}")


if __name__ == "__main__":
    main()
