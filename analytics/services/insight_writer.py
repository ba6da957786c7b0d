"""Writing the week's findings as insights: Claude when ANTHROPIC_API_KEY is set, else a
deterministic writer that produces the same structure.

Claude receives only the findings (kind, title, subject, named figures, significance,
direction: counts and anonymous ranks, course and campaign names, never a learner's name,
email or id) and answers JSON: a short `summary` and one insight per finding (`key`,
`headline`, `body`, `recommendation`). The answer is checked: the JSON shape, one insight per
finding key, lengths, and grounding (analytics.services.grounding: every number must be an
input figure, every date one of the two weeks'). A rejected answer is asked again once with the
violations named; a second rejection (or an API error) falls back to the deterministic writer,
and the run records why. Tokens, cost (tokens x STRIDE_AI_PRICE_PER_MTOK) and latency are
summed over the attempts.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings

from analytics.services.findings import DAY, Finding, WeekFindings
from analytics.services.grounding import numbers_in, ungrounded
from analytics.services.significance import ALPHA
from core.claude import claude_client, claude_cost, reply_text

MAX_ATTEMPTS = 2  # the first answer, and one retry naming what was wrong
HEADLINE_MAX = 200
BODY_MAX = 1200
SUMMARY_MAX = 1500
SMALLEST_P = 0.0001  # smaller p-values are written "p < 0.0001"
# Numbers the findings' words use besides their figures (the 95% intervals, the interventions'
# 14-day outcome), given to Claude as context and allowed by the grounding check.
CONTEXT_FIGURES = {
    "significance_level": ALPHA,
    "smallest_p_shown": SMALLEST_P,
    "interval_confidence_pct": 95,
    "intervention_outcome_days": 14,
}
SYSTEM = (
    "You write the weekly insights of an online-learning platform for its staff, from "
    "statistics already computed. Write plainly and briefly, for people who act on them. "
    "Use ONLY the numbers given in the findings' figures or the context, written exactly as "
    "given or rounded to fewer decimals, or a share's figure times 100 as a percent; never "
    "compute, add or invent a number (no counts, ranks, ratios or dates of your own). Say "
    "whether a finding is statistically significant. Give each finding one concrete "
    "recommendation that follows from it. Answer with JSON only: "
    '{"summary": "2-3 sentences", "insights": [{"key": "<the finding key>", '
    '"headline": "...", "body": "...", "recommendation": "..."}]} with exactly one insight '
    "per finding, in the findings' order."
)


@dataclass(frozen=True)
class WrittenInsight:
    key: str
    headline: str
    body: str
    recommendation: str


@dataclass
class Written:
    """The week's text and how it was written."""

    summary: str
    insights: list[WrittenInsight]
    writer: str  # "ai", "deterministic" or "fallback" (InsightRun.Writer)
    model: str = ""
    attempts: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = None
    latency_ms: int | None = None


# ---- the deterministic writer -------------------------------------------------------------


def number(value: float) -> str:
    """A figure written as the figures hold it (an integral value without decimals)."""
    value = float(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def p_text(p: float | None) -> str:
    """A p-value figure (rounded as the findings hold it) in words: "p = 0.0297", or
    "p < 0.0001" for one that rounds to 0."""
    if p is None:
        return ""
    if p < SMALLEST_P:
        return f"p < {number(SMALLEST_P)}"
    return f"p = {number(p)}"


def _change(f: dict[str, float]) -> str:
    if "change_pct" not in f:
        return "from nothing the week before"
    return f"{'up' if f['change_pct'] >= 0 else 'down'} {number(abs(f['change_pct']))}%"


_METRIC_ADVICE = {
    ("dau", "down"): "Check what changed this week on the trends page (releases, mailings, "
    "deadlines) and consider a re-engagement campaign for last week's active learners.",
    ("dau", "up"): "Find what drew learners back (a campaign, a new course) and repeat it.",
    ("at_risk_share", "up"): "Work through the at-risk list and check that the risk-triggered "
    "rules are active.",
    ("at_risk_share", "down"): "Keep the outreach that is running; note what changed.",
    ("completions", "down"): "Look at the courses whose learners stalled near the end and "
    "nudge them with a reminder.",
    ("enrollments", "down"): "Review acquisition: which courses lost new enrollments?",
}


def _deterministic_one(finding: Finding) -> WrittenInsight:
    f, kind, up = finding.figures, finding.kind, finding.direction == "up"
    sig = (
        f"It is statistically significant ({p_text(f.get('p_value'))})."
        if finding.significant and f.get("p_value") is not None
        else "It is not statistically significant yet."
        if f.get("p_value") is not None
        else ""
    )
    if kind in ("metric", "course"):
        what = (
            finding.subject if kind == "metric" else f"Daily active learners in {finding.subject}"
        )
        body = (
            f"{what}: {number(f['this_week'])} this week against {number(f['last_week'])} the "
            f"week before ({_change(f)}). {sig}"
        )
        metric = finding.key.split(":", 1)[1]
        advice = _METRIC_ADVICE.get((metric, finding.direction)) or (
            f"Ask what changed in {finding.subject} this week and repeat it elsewhere."
            if up
            else f"Ask the instructors of {finding.subject} what changed, and consider a "
            "campaign for its learners who were active last week."
            if kind == "course"
            else "Open the chart to see which days and courses drove the change."
        )
    elif kind == "learners":
        body = (
            f"Of {number(f['learners'])} learners active in the two weeks, "
            f"{number(f['rising'])} were more active this week and {number(f['declining'])} "
            f"less. {sig}"
        )
        if "top_fall_events" in f:
            body += f" The largest drop was {number(f['top_fall_events'])} events."
        advice = (
            "Reach out to the learners who slowed down most; the at-risk list ranks them."
            if not up
            else "Keep this week's outreach going; it coincides with learners speeding up."
        )
    elif kind == "anomaly":
        body = (
            f"{finding.subject}: {number(f['value'])} against a usual "
            f"{number(f['baseline'])} for that weekday (anomaly score {number(f['score'])})."
        )
        advice = "Check what happened that day (an outage, a mailing, a deadline) first."
    elif kind == "correlation":
        body = (
            f"Across {number(f['enrollments'])} scored enrollments, “{finding.subject}” has a "
            f"rank correlation of {number(f['rho'])} with the drop-off risk. {sig}"
        )
        advice = (
            "Use this signal in an alert rule so staff hear of learners early."
            if up
            else "Encourage what this signal measures: learners who do more of it stay."
        )
    else:  # intervention
        interval = (
            f" (95% interval {number(f['ci_low_pct'])}% to {number(f['ci_high_pct'])}%)"
            if "ci_low_pct" in f and "ci_high_pct" in f
            else ""
        )
        body = (
            f"Of {number(f['contacted'])} learners contacted and {number(f['held_out'])} held "
            f"out, activity in the next 14 days differs by {number(f['uplift_pct'])}%"
            f"{interval}. {sig}"
        )
        advice = (
            "Keep it running and consider widening its audience."
            if finding.significant and up
            else "Review or pause it: contacting does worse than not contacting."
            if finding.significant
            else "Keep the holdout until the interval excludes zero before deciding."
        )
    return WrittenInsight(finding.key, finding.title[:HEADLINE_MAX], body.strip(), advice)


def deterministic_write(week: WeekFindings, *, writer: str = "deterministic") -> Written:
    """The built-in writer: the same structure as Claude's, from the figures alone."""
    insights = [_deterministic_one(f) for f in week.findings]
    significant = sum(f.significant for f in week.findings)
    if not week.findings:
        summary = "Nothing moved significantly this week."
    else:
        summary = (
            f"{number(len(week.findings))} finding{'s' if len(week.findings) != 1 else ''} "
            f"this week, {number(significant)} of them statistically significant. "
            + insights[0].headline
            + "."
        )
    return Written(summary=summary, insights=insights, writer=writer)


# ---- Claude ---------------------------------------------------------------------------------


def findings_payload(week: WeekFindings) -> dict[str, Any]:
    """What Claude is told: the findings and the context, nothing about any one learner."""
    return {
        "week": {"from": week.week.isoformat(), "to": week.week_end.isoformat()},
        "context": CONTEXT_FIGURES,
        "findings": [
            {
                "key": f.key,
                "kind": f.kind,
                "title": f.title,
                "subject": f.subject,
                "figures": f.figures,
                "significant": f.significant,
                "direction": f.direction,
            }
            for f in week.findings
        ],
    }


def allowed_figures(week: WeekFindings) -> list[float]:
    """The numbers Claude may write: the findings' figures, the numbers in their own titles
    and subjects ("... in the last 28 days", a course called "Algebra 2"), the context, and
    how many findings there are."""
    figures = [float(v) for f in week.findings for v in f.figures.values()]
    for f in week.findings:
        for token in numbers_in(f"{f.title} {f.subject}")[1]:
            figures.append(float(token.rstrip("%").replace(",", "").replace("\u2212", "-")))
    return figures + [float(v) for v in CONTEXT_FIGURES.values()] + [float(len(week.findings))]


def allowed_dates(week: WeekFindings) -> list[str]:
    """The days of the two weeks compared."""
    first = week.week - datetime.timedelta(days=7)
    return [(first + i * DAY).isoformat() for i in range(14)]


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def answer_problems(text: str, week: WeekFindings) -> tuple[list[str], Written | None]:
    """Why Claude's answer `text` is rejected (empty when it is accepted) and, when accepted,
    what it says."""
    try:
        answer = json.loads(_FENCE.sub("", text.strip()))
        summary = str(answer["summary"]).strip()
        items = list(answer["insights"])
        insights = [
            WrittenInsight(
                key=str(i["key"]),
                headline=str(i["headline"]).strip(),
                body=str(i["body"]).strip(),
                recommendation=str(i["recommendation"]).strip(),
            )
            for i in items
        ]
    except (ValueError, KeyError, TypeError):
        return ["The answer was not the JSON asked for."], None
    problems = []
    expected = [f.key for f in week.findings]
    if sorted(i.key for i in insights) != sorted(expected):
        problems.append(f"The insights' keys must be exactly: {', '.join(expected)}.")
    if not summary or len(summary) > SUMMARY_MAX:
        problems.append(f"The summary must have 1 to {SUMMARY_MAX} characters.")
    for i in insights:
        if not (i.headline and i.body and i.recommendation):
            problems.append(f"The insight {i.key} has an empty headline, body or recommendation.")
        if len(i.headline) > HEADLINE_MAX or len(i.body) > BODY_MAX:
            problems.append(f"The insight {i.key} is longer than {HEADLINE_MAX}/{BODY_MAX}.")
    texts = [summary] + [t for i in insights for t in (i.headline, i.body, i.recommendation)]
    invented = ungrounded(texts, allowed_figures(week), allowed_dates(week))
    if invented:
        problems.append(
            "These numbers are not among the input figures: " + ", ".join(invented) + "."
        )
    if problems:
        return problems, None
    order = {key: n for n, key in enumerate(expected)}
    insights.sort(key=lambda i: order[i.key])
    return [], Written(summary=summary, insights=insights, writer="ai")


def insights_write(week: WeekFindings, *, client: Any = None) -> Written:
    """The week's insights in words (see the module docstring); never raises for Claude's
    sake: an unusable answer ends in the deterministic writer, with the reasons kept."""
    if not week.findings or (client is None and not settings.ANTHROPIC_API_KEY):
        return deterministic_write(week)
    import anthropic  # see core.claude.claude_client

    client = client or claude_client()
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": json.dumps(findings_payload(week), ensure_ascii=False)}
    ]
    rejected: list[dict[str, Any]] = []
    tokens_in = tokens_out = 0
    started = time.perf_counter()
    written: Written | None = None
    attempts = 0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        attempts = attempt
        try:
            reply = client.messages.create(
                model=settings.STRIDE_AI_MODEL,
                max_tokens=2000,
                system=SYSTEM,
                messages=messages,
                timeout=settings.STRIDE_AI_TIMEOUT_SECONDS,
            )
        except anthropic.APIError as exc:
            rejected.append({"attempt": attempt, "reasons": [f"{type(exc).__name__}: {exc}"]})
            continue
        if reply.usage is not None:
            tokens_in += reply.usage.input_tokens
            tokens_out += reply.usage.output_tokens
        text = reply_text(reply)
        problems, written = answer_problems(text, week)
        if written is not None:
            break
        rejected.append({"attempt": attempt, "reasons": problems})
        messages += [
            {"role": "assistant", "content": text or "(empty)"},
            {
                "role": "user",
                "content": "Your answer was rejected: "
                + " ".join(problems)
                + " Answer again with the same JSON, using only the figures given.",
            },
        ]
    if written is None:
        written = deterministic_write(week, writer="fallback")
    written.model = settings.STRIDE_AI_MODEL
    written.attempts = attempts
    written.rejected = rejected
    written.input_tokens, written.output_tokens = tokens_in, tokens_out
    written.cost_usd = claude_cost(tokens_in, tokens_out)
    written.latency_ms = int((time.perf_counter() - started) * 1000)
    return written


def texts_of(written: Written) -> Sequence[str]:
    """Every text the writer produced (for checks and tests)."""
    return [written.summary] + [
        t for i in written.insights for t in (i.headline, i.body, i.recommendation)
    ]
