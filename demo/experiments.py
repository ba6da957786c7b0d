"""The demo's experiments, made through the experiments services: one on the weekly
re-engagement campaign's arms (a gentle reminder against a peer comparison), started before
the campaign's history is replayed so that its Mondays send each learner their arm's message,
and one in the "integrator's platform" (a recap card after each lesson) whose learners were
assigned through the assignment service over the last two weeks. A rerun adds nothing."""

from __future__ import annotations

import datetime
import random

from accounts.models import User
from campaigns.models import Campaign, Experiment, ExperimentLog
from campaigns.services.experiments import (
    assignment_get,
    experiment_create,
    experiment_start,
    exposures_from_deliveries,
)

CAMPAIGN_KEY = "weekly-tone"
PLATFORM_KEY = "lesson-recap-card"


def demo_campaign_experiment_start(*, campaign: Campaign, started: datetime.datetime) -> None:
    """The weekly campaign's arms experiment, running since `started` (before its first run)."""
    if Experiment.objects.filter(key=CAMPAIGN_KEY).exists():
        return
    experiment = experiment_create(
        spec={
            "key": CAMPAIGN_KEY,
            "name": "Weekly nudge: reminder or peer comparison",
            "hypothesis": "Telling inactive learners how their peers are doing brings more of "
            "them back than a gentle reminder.",
            "kind": "campaign",
            "campaign": campaign.pk,
            "variants": [
                {"key": "control", "weight": 50, "template": "gentle-reminder"},
                {"key": "peers", "weight": 50, "template": "peer-comparison"},
            ],
            "primary_metric": {"kind": "binomial", "measure": "clicked"},
            "secondary_metrics": [{"kind": "binomial", "measure": "retained"}],
            "guardrail_metrics": [
                {"kind": "binomial", "measure": "unsubscribed", "lower_is_better": True}
            ],
        },
        actor=None,
    )
    experiment_start(experiment=experiment, actor=None)
    _backdate(experiment, started, started - datetime.timedelta(hours=1))


def _backdate(experiment: Experiment, started: datetime.datetime, made: datetime.datetime) -> None:
    """Made and started when its history began, as far as its page and log can tell."""
    Experiment.objects.filter(pk=experiment.pk).update(started_at=started, created_at=made)
    ExperimentLog.objects.filter(experiment=experiment, action="created").update(at=made)
    ExperimentLog.objects.filter(experiment=experiment, action="started").update(at=started)


def demo_experiments_finish(*, now: datetime.datetime, seed: int) -> int:
    """Log the campaign experiment's exposures from its sends, and make the platform
    experiment with two weeks of assignments; how many experiments were made."""
    made = 0
    campaign_experiment = Experiment.objects.filter(key=CAMPAIGN_KEY).first()
    if campaign_experiment is not None:
        exposures_from_deliveries(experiment=campaign_experiment)
    if not Experiment.objects.filter(key=PLATFORM_KEY).exists():
        started = now - datetime.timedelta(days=14)
        experiment = experiment_create(
            spec={
                "key": PLATFORM_KEY,
                "name": "Recap card after each lesson",
                "hypothesis": "A three-line recap at the end of a lesson makes learners start "
                "the next one sooner.",
                "variants": [{"key": "control", "weight": 50}, {"key": "recap", "weight": 50}],
                "primary_metric": {
                    "kind": "binomial",
                    "event": "lesson_completed",
                    "window_days": 7,
                },
                "secondary_metrics": [
                    {"kind": "continuous", "event": "lesson_completed", "window_days": 7}
                ],
            },
            actor=None,
        )
        experiment = experiment_start(experiment=experiment, actor=None)
        _backdate(experiment, started, started - datetime.timedelta(hours=2))
        experiment.refresh_from_db()
        rng = random.Random(seed)
        students = User.objects.filter(role=User.Role.STUDENT, is_active=True).order_by("pk")
        for learner in students:
            seen = started + datetime.timedelta(seconds=rng.uniform(0, 12 * 86400))
            assignment_get(experiment=experiment, user=learner, now=seen)
        made += 1
    return made + (campaign_experiment is not None)
