"""Bulk reads of learner activity: the LearnerActivity tensor the risk model scores.

One row per active enrolment (learner x course). Everything is computed for all of them at
once: on PostgreSQL one aggregation of events grouped by learner, course and learner-LOCAL date,
one by learner and local hour, one first/last aggregate per learner and course, and three small
reads of enrolments and lesson progress. The rows are scattered into numpy arrays
(``np.add.at``); there is no query or Python loop per learner. Events that name no course
count toward every active enrolment of their learner; study rhythm (``hour_hist``) is the
learner's own, repeated on each of their rows.

"As of" a date means: events whose local date (in the learner's own timezone) is on or before
that date; later events are ignored, so scoring a past date reproduces what was known then.
SQLite (the embedded default) fetches the raw events of the window and converts timezones in
pandas, one distinct timezone at a time; it is slower but gives the same numbers.

Modules: ``postgresql`` and ``sqlite`` compute the ``aggregates`` per vendor; learner-local time
is core.localtime's; ``enrolment`` reads enrolment state and
withdrawals; ``tensor`` assembles the LearnerActivity block. Callers import from here.
"""

from engagement.selectors.activity.enrolment import enrolment_withdrawals, pair_index
from engagement.selectors.activity.tensor import enrolment_daily_events, learner_activity

__all__ = [
    "enrolment_daily_events",
    "enrolment_withdrawals",
    "learner_activity",
    "pair_index",
]
