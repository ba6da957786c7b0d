"""Quiz, video and live-session signals: how well and how fully the learner takes part."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from engagement.scoring.signals.catalogue import MISSING
from engagement.scoring.signals.window import ActivityWindow, Columns, ratio


def quiz_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Quiz scores: count, mean, last, trend and pass rate (needs the quiz counts)."""
    a, w, rows = win.activity, win.w, win.rows
    out: Columns = {}
    q_sum = a.quiz_score_sum.astype(np.float64, copy=False)
    q_n = a.quiz_score_n.astype(np.float64, copy=False)
    out["quiz_scored_28d"] = win.last(q_n, 28)
    out["quiz_mean_score"] = ratio(q_sum.sum(axis=1), q_n.sum(axis=1), MISSING)
    has_quiz = q_n > 0
    last_q = w - 1 - np.argmax(has_quiz[:, ::-1], axis=1)
    out["quiz_last_score"] = np.where(
        has_quiz.any(axis=1), ratio(q_sum[rows, last_q], q_n[rows, last_q], MISSING), MISSING
    )
    recent_q = ratio(win.last(q_sum, 14), win.last(q_n, 14), np.nan)
    early_q = ratio(q_sum[:, : w - 14].sum(axis=1), q_n[:, : w - 14].sum(axis=1), np.nan)
    out["quiz_score_trend"] = np.nan_to_num(recent_q - early_q, nan=0.0)
    out["quiz_pass_rate_28d"] = ratio(f["quizzes_passed_28d"], f["quizzes_28d"], MISSING)
    return out


def media_signals(win: ActivityWindow, f: Mapping[str, np.ndarray]) -> Columns:
    """Video completion and live-session attendance (needs the video and live counts)."""
    out: Columns = {}
    video_pct = win.last(win.activity.video_pct_sum.astype(np.float64, copy=False), 28)
    out["video_completion_28d"] = np.clip(ratio(video_pct, f["video_28d"], MISSING), MISSING, 1.0)
    live_total = f["live_attended_28d"] + f["live_missed_28d"]
    out["live_attendance_rate_28d"] = ratio(f["live_attended_28d"], live_total, MISSING)
    return out
