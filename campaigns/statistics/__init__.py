"""Pure numerical core of Stride's experiment statistics (no Django imports).

The methods are those of GrowthBook's engine ``gbstats`` 0.8.0, implemented here from the
mathematics and checked against its answers (``tests/campaigns/data/gbstats_reference.json``):

* ``summaries`` holds the per-variant inputs: ``ProportionStatistic``, ``MeanStatistic`` and
  ``CupedStatistic`` (sums over learners, so SQL can produce them in one pass);
* ``comparison`` computes the relative uplift and its delta-method variance, which both
  engines start from;
* ``frequentist`` gives the relative uplift with a delta-method interval and p-value, fixed
  horizon (``ttest``) or always valid under peeking (``sequential_ttest``);
* ``bayesian`` gives the chance to beat control, the expected loss and a credible interval;
* ``srm`` checks the sample ratio; ``corrections`` adjusts p-values across treatments;
* ``cuped`` reports how much the pre-exposure covariate cut the variance;
* ``power`` answers learners and days needed for a minimum detectable effect, the power at a
  given sample and the effect it can detect, for the fixed or the sequential test;
* ``decision`` applies the auto-winner rule to those results.

Every function takes plain numbers. The statistics also accept numpy arrays in their fields
(one element per experiment, or per day of one experiment), and the tests then return arrays:
that is how the sequential interval over time and the simulations are computed in one call.
"""

from campaigns.statistics.bayesian import BayesianResult, GaussianPrior, bayesian_test
from campaigns.statistics.corrections import holm_bonferroni
from campaigns.statistics.cuped import cuped_theta, cuped_variance_reduction
from campaigns.statistics.decision import (
    Decision,
    DecisionRule,
    DecisionStatus,
    TreatmentEvidence,
    decide,
    guardrail_hurt,
)
from campaigns.statistics.frequentist import (
    DEFAULT_SEQUENTIAL_TUNING,
    FrequentistResult,
    sequential_ttest,
    ttest,
)
from campaigns.statistics.power import (
    MeanBaseline,
    ProportionBaseline,
    SampleSize,
    minimum_detectable_effect,
    power_at,
    sample_size,
)
from campaigns.statistics.srm import SRM_THRESHOLD, SrmResult, srm_check
from campaigns.statistics.summaries import (
    CupedStatistic,
    MeanStatistic,
    ProportionStatistic,
    Statistic,
)

__all__ = [
    "DEFAULT_SEQUENTIAL_TUNING",
    "SRM_THRESHOLD",
    "BayesianResult",
    "CupedStatistic",
    "Decision",
    "DecisionRule",
    "DecisionStatus",
    "FrequentistResult",
    "GaussianPrior",
    "MeanBaseline",
    "MeanStatistic",
    "ProportionBaseline",
    "ProportionStatistic",
    "SampleSize",
    "SrmResult",
    "Statistic",
    "TreatmentEvidence",
    "bayesian_test",
    "cuped_theta",
    "cuped_variance_reduction",
    "decide",
    "guardrail_hurt",
    "holm_bonferroni",
    "minimum_detectable_effect",
    "power_at",
    "sample_size",
    "sequential_ttest",
    "srm_check",
    "ttest",
]
