"""The auto-winner rule: when may an experiment hand all traffic to one treatment?

A treatment wins when, together:

* the sample is trustworthy: no sample-ratio mismatch (``srm``), every variant has at least
  ``min_users_per_variant`` learners, and the experiment has run ``min_runtime_days`` (a
  weekly cycle by default, so that weekday and weekend learners both count);
* none of its guardrail metrics is significantly hurt (``guardrail_hurt``);
* the primary metric shows it better, by either engine:
  - Bayesian: chance to beat control >= ``min_chance_to_win`` and the expected loss of
    shipping it (``risk_treatment``) below ``max_expected_loss``; or
  - sequential: its always-valid p-value, Holm-adjusted across the treatments, is below
    ``alpha`` with the uplift in the good direction. With one treatment this is exactly
    "the sequential interval excludes zero"; the sequential test is the one that may be
    read at every look.

Where several treatments qualify, the one with the highest chance to win is taken. The answer
is a plain ``Decision``: the winner's key or None, a ``DecisionStatus`` for the results page,
and the reasons in sentences.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from campaigns.statistics.bayesian import BayesianResult
from campaigns.statistics.corrections import holm_bonferroni
from campaigns.statistics.frequentist import FrequentistResult
from campaigns.statistics.srm import SRM_THRESHOLD


@dataclass(frozen=True)
class DecisionRule:
    """The thresholds of the auto-winner rule (expected loss in relative terms)."""

    min_chance_to_win: float = 0.95
    max_expected_loss: float = 0.005
    alpha: float = 0.05
    min_users_per_variant: int = 500
    min_runtime_days: float = 7
    srm_threshold: float = SRM_THRESHOLD


@dataclass(frozen=True)
class TreatmentEvidence:
    """One treatment's results on the primary metric, and its hurt guardrails by name."""

    key: str
    bayesian: BayesianResult
    sequential: FrequentistResult | None = None
    guardrails_hurt: tuple[str, ...] = field(default_factory=tuple)


class DecisionStatus(StrEnum):
    """Where the experiment stands, the first that applies in this order."""

    SRM = "srm"  # the sample ratio is off: nothing can be read
    TOO_EARLY = "too_early"  # below the minimum sample or runtime
    WINNER = "winner"
    GUARDRAIL_HURT = "guardrail_hurt"  # no winner, and every treatment hurts a guardrail
    INCONCLUSIVE = "inconclusive"  # keep running


@dataclass(frozen=True)
class Decision:
    """The winning variant's key, or None, where the experiment stands, and why."""

    winner: str | None
    status: DecisionStatus
    reasons: tuple[str, ...]


def guardrail_hurt(result: FrequentistResult, *, lower_is_better: bool = False) -> bool:
    """Whether a guardrail metric is significantly worse: its interval lies wholly on the bad side.

    Pass the sequential result, since guardrails are watched at every look; no correction
    across guardrails, so that a harm is caught rather than excused. A result that could not
    be computed counts as not hurt: that includes a control with no events at all (a relative
    change from zero is undefined, as in gbstats), so the caller should also look at the
    counts while they are that small.
    """
    if not result.valid:
        return False
    return result.ci_low > 0 if lower_is_better else result.ci_high < 0


def decide(
    *,
    control: str,
    users: Mapping[str, int],
    treatments: Sequence[TreatmentEvidence],
    runtime_days: float,
    srm_p_value: float,
    lower_is_better: bool = False,
    rule: DecisionRule | None = None,
) -> Decision:
    """Apply the auto-winner rule to an experiment's results (see the module docstring).

    ``users`` counts the exposed learners per variant key, control included; the Bayesian
    results must have been computed with the same ``lower_is_better`` as given here.
    """
    rule = rule or DecisionRule()
    if srm_p_value < rule.srm_threshold:
        reason = (
            f"Sample ratio mismatch (p = {srm_p_value:.2g} < {rule.srm_threshold:g}): "
            "fix assignment or exposure logging before reading the results."
        )
        return Decision(winner=None, status=DecisionStatus.SRM, reasons=(reason,))
    blockers: list[str] = []
    keys = [control, *(t.key for t in treatments)]
    short = [k for k in keys if users.get(k, 0) < rule.min_users_per_variant]
    if short:
        blockers.append(f"Fewer than {rule.min_users_per_variant} learners in {', '.join(short)}.")
    if runtime_days < rule.min_runtime_days:
        blockers.append(
            f"Running {runtime_days:g} days, fewer than the minimum {rule.min_runtime_days:g}."
        )
    if blockers:
        return Decision(winner=None, status=DecisionStatus.TOO_EARLY, reasons=tuple(blockers))

    adjusted = holm_bonferroni(
        [t.sequential.p_value if t.sequential is not None else 1.0 for t in treatments]
    )
    reasons: list[str] = []
    candidates: list[TreatmentEvidence] = []
    for evidence, p_adjusted in zip(treatments, adjusted, strict=True):
        if evidence.guardrails_hurt:
            reasons.append(
                f"{evidence.key} significantly hurts {', '.join(evidence.guardrails_hurt)}."
            )
            continue
        why = _why_better(evidence, p_adjusted, lower_is_better, rule)
        if why:
            candidates.append(evidence)
            reasons.append(f"{evidence.key} beats {control}: {why}.")
        else:
            reasons.append(
                f"{evidence.key} is not yet shown better than {control} "
                f"(chance to win {evidence.bayesian.chance_to_win:.1%})."
            )
    if not candidates:
        every_one_hurts = bool(treatments) and all(t.guardrails_hurt for t in treatments)
        status = DecisionStatus.GUARDRAIL_HURT if every_one_hurts else DecisionStatus.INCONCLUSIVE
        return Decision(winner=None, status=status, reasons=tuple(reasons))
    winner = max(candidates, key=lambda e: e.bayesian.chance_to_win)
    if len(candidates) > 1:
        reasons.append(f"{winner.key} has the highest chance to win of those that qualify.")
    return Decision(winner=winner.key, status=DecisionStatus.WINNER, reasons=tuple(reasons))


def _why_better(
    evidence: TreatmentEvidence, p_adjusted: float, lower_is_better: bool, rule: DecisionRule
) -> str:
    bayes = evidence.bayesian
    ways = []
    if (
        bayes.valid
        and bayes.chance_to_win >= rule.min_chance_to_win
        and bayes.risk_treatment < rule.max_expected_loss
    ):
        ways.append(
            f"chance to win {bayes.chance_to_win:.1%} with expected loss {bayes.risk_treatment:.2%}"
        )
    seq = evidence.sequential
    if seq is not None and seq.valid and p_adjusted < rule.alpha:
        good_direction = seq.uplift < 0 if lower_is_better else seq.uplift > 0
        if good_direction:
            ways.append(f"sequential p = {p_adjusted:.3g} (Holm-adjusted) < {rule.alpha:g}")
    return " and ".join(ways)
