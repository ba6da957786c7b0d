"""Learner-local time for the activity reads: UTC margins of local dates, local wall times.

Kept apart so that one shared learner-local time module can take these over.
"""

from __future__ import annotations

import datetime
import zoneinfo

import pandas as pd

# A local date lies within [UTC time - 12 h, UTC time + 14 h]; these margins turn a local-date
# range into a UTC range that surely contains it (then filtered exactly per learner).
MAX_BEHIND_UTC = datetime.timedelta(hours=12)
MAX_AHEAD_OF_UTC = datetime.timedelta(hours=14)


def utc_bounds_of_local_dates(
    start: datetime.date, end: datetime.date
) -> tuple[datetime.datetime, datetime.datetime]:
    """Return UTC instants surely enclosing local dates start..end in any timezone."""
    lo = datetime.datetime.combine(start, datetime.time(), tzinfo=datetime.UTC) - MAX_AHEAD_OF_UTC
    hi = (
        datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
        + MAX_BEHIND_UTC
    )
    return lo, hi


def naive_local_times(frame: pd.DataFrame, tz_of_user: dict[int, str]) -> pd.Series:
    """Return each row's naive local time, converting one distinct timezone at a time."""
    utc = pd.to_datetime(frame["occurred_at"], utc=True)
    tz = frame["user_id"].map(tz_of_user).fillna("UTC")
    out = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    for name in tz.unique():
        m = tz == name
        out[m] = utc[m].dt.tz_convert(zoneinfo.ZoneInfo(name)).dt.tz_localize(None)
    return out
