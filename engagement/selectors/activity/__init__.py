"""Bulk reads of learner activity: the LearnerActivity tensor the risk model scores.

Everything is computed for all learners at once: on PostgreSQL one aggregation of events
grouped by learner and learner-LOCAL date (plus local hour), one per-learner first/last
aggregate, and three small reads of enrolments and lesson progress. The rows are scattered into
numpy arrays (``np.add.at``); there is no query or Python loop per learner.

"As of" a date means: events whose local date (in the learner's own timezone) is on or before
that date; later events are ignored, so scoring a past date reproduces what was known then.
SQLite (the embedded default) fetches the raw events of the window and converts timezones in
pandas, one distinct timezone at a time; it is slower but gives the same numbers.

Modules: ``postgresql`` and ``sqlite`` compute the ``aggregates`` per vendor; learner-local time
is core.localtime's; ``enrolment`` reads enrolment state and
withdrawals; ``tensor`` assembles the LearnerActivity block. Callers import from here.
"""

from engagement.selectors.activity.enrolment import learner_withdrawals
from engagement.selectors.activity.tensor import learner_activity, learner_daily_events

__all__ = ["learner_activity", "learner_daily_events", "learner_withdrawals"]
