"""The auto-winner rule: it names a winner only when the evidence and the sample allow."""

from __future__ import annotations

from typing import Any

from campaigns.statistics import (
    BayesianResult,
    DecisionRule,
    DecisionStatus,
    FrequentistResult,
    ProportionStatistic,
    TreatmentEvidence,
    bayesian_test,
    decide,
    guardrail_hurt,
    sequential_ttest,
)


def _clear_win() -> TreatmentEvidence:
    control = ProportionStatistic(n=20_000, conversions=2000)
    treatment = ProportionStatistic(n=20_000, conversions=2300)
    return TreatmentEvidence(
        key="b",
        bayesian=bayesian_test(control, treatment),
        sequential=sequential_ttest(control, treatment),
    )


def _decide(evidence: TreatmentEvidence, **overrides: Any):
    arguments: dict[str, Any] = {
        "control": "a",
        "users": {"a": 20_000, "b": 20_000},
        "treatments": [evidence],
        "runtime_days": 14,
        "srm_p_value": 0.4,
    }
    return decide(**{**arguments, **overrides})


def test_a_clear_win_is_declared_with_its_reasons() -> None:
    decision = _decide(_clear_win())
    assert decision.winner == "b"
    assert decision.status == DecisionStatus.WINNER
    assert any("chance to win" in r and "sequential" in r for r in decision.reasons)


def test_no_winner_while_srm_is_flagged() -> None:
    decision = _decide(_clear_win(), srm_p_value=0.0002)
    assert decision.winner is None
    assert decision.status == "srm"
    assert "Sample ratio mismatch" in decision.reasons[0]


def test_no_winner_while_a_guardrail_is_hurt() -> None:
    # Unsubscribes (lower is better) up from 1% to 1.6% in the treatment.
    unsubscribes = sequential_ttest(
        ProportionStatistic(n=20_000, conversions=200),
        ProportionStatistic(n=20_000, conversions=320),
    )
    assert guardrail_hurt(unsubscribes, lower_is_better=True)
    assert not guardrail_hurt(unsubscribes, lower_is_better=False)
    hurt = TreatmentEvidence(
        key="b",
        bayesian=_clear_win().bayesian,
        sequential=_clear_win().sequential,
        guardrails_hurt=("unsubscribe rate",),
    )
    decision = _decide(hurt)
    assert decision.winner is None
    assert decision.status == DecisionStatus.GUARDRAIL_HURT
    assert "hurts unsubscribe rate" in decision.reasons[0]


def test_no_winner_before_the_minimum_sample_or_runtime() -> None:
    early = _decide(_clear_win(), runtime_days=3)
    small = _decide(
        _clear_win(),
        users={"a": 20_000, "b": 20_000},
        rule=DecisionRule(min_users_per_variant=50_000),
    )
    assert early.winner is None and "fewer than the minimum 7" in early.reasons[0]
    assert early.status == small.status == DecisionStatus.TOO_EARLY
    assert small.winner is None and "Fewer than 50000 learners in a, b" in small.reasons[0]


def test_no_winner_while_the_evidence_is_thin() -> None:
    control = ProportionStatistic(n=2000, conversions=200)
    treatment = ProportionStatistic(n=2000, conversions=215)
    thin = TreatmentEvidence(
        key="b",
        bayesian=bayesian_test(control, treatment),
        sequential=sequential_ttest(control, treatment),
    )
    decision = _decide(thin, users={"a": 2000, "b": 2000})
    assert decision.winner is None
    assert decision.status == DecisionStatus.INCONCLUSIVE
    assert "not yet shown better" in decision.reasons[0]


def _evidence(key: str, chance: float, loss: float, p: float, uplift: float) -> TreatmentEvidence:
    bayes = BayesianResult(
        chance_to_win=chance,
        uplift=uplift,
        ci_low=uplift - 0.05,
        ci_high=uplift + 0.05,
        risk_control=0.0,
        risk_treatment=loss,
        stddev=0.025,
        valid=True,
    )
    seq = FrequentistResult(
        uplift=uplift,
        ci_low=uplift - 0.04,
        ci_high=uplift + 0.04,
        p_value=p,
        stddev=0.02,
        valid=True,
    )
    return TreatmentEvidence(key=key, bayesian=bayes, sequential=seq)


def test_the_sequential_path_is_holm_corrected_across_treatments() -> None:
    users = {"a": 5000, "b": 5000, "c": 5000}
    strict = DecisionRule(min_chance_to_win=0.999)  # only the sequential path can answer
    alone = decide(
        control="a",
        users=users,
        treatments=[_evidence("b", 0.98, 0.001, 0.03, 0.06)],
        runtime_days=10,
        srm_p_value=0.5,
        rule=strict,
    )
    both = decide(
        control="a",
        users=users,
        treatments=[
            _evidence("b", 0.98, 0.001, 0.03, 0.06),
            _evidence("c", 0.97, 0.001, 0.04, 0.05),
        ],
        runtime_days=10,
        srm_p_value=0.5,
        rule=strict,
    )
    assert alone.winner == "b"
    assert both.winner is None  # 0.03 and 0.04 become 0.06 and 0.06 after Holm


def test_the_best_of_several_qualifying_treatments_wins() -> None:
    decision = decide(
        control="a",
        users={"a": 5000, "b": 5000, "c": 5000},
        treatments=[
            _evidence("b", 0.96, 0.001, 0.2, 0.04),
            _evidence("c", 0.99, 0.0005, 0.2, 0.07),
        ],
        runtime_days=10,
        srm_p_value=0.5,
    )
    assert decision.winner == "c"


def test_a_lower_is_better_metric_wins_by_going_down() -> None:
    control = ProportionStatistic(n=20_000, conversions=2300)
    treatment = ProportionStatistic(n=20_000, conversions=2000)
    down = TreatmentEvidence(
        key="b",
        bayesian=bayesian_test(control, treatment, lower_is_better=True),
        sequential=sequential_ttest(control, treatment),
    )
    assert _decide(down, lower_is_better=True).winner == "b"
    wrong_way = TreatmentEvidence(
        key="b",
        bayesian=bayesian_test(control, treatment),
        sequential=sequential_ttest(control, treatment),
    )
    assert _decide(wrong_way).winner is None
