"""Honest external check of the drop-off model on real MOOC logs (KDD Cup 2015, XuetangX).

Everything goes through the product path, against a dedicated PostgreSQL database:

1. Each enrolment of a course file becomes one Stride learner (external id ``kdd-<enrolment>``)
   and each course a Stride course (``kdd-<course>``). Every count of the daily log becomes one
   event of a custom type ``x-kdd-<kind>`` (access, discussion, navigate, page_close, problem,
   video, wiki), sent through ``events_ingest`` (which creates users, courses and enrolments
   provisionally, the enrolment starting at the first event). Event ids are deterministic
   (``<enrolment>-<day>-<kind>-<n>``), so re-running stores nothing twice; timestamps are spread
   through the day from a per-learner, per-day start hour.
2. Courses run at different dates in the log; each course's 30-day window is moved so that all
   windows end on the same day (``WINDOW_END``), which lets one ``--as-of`` serve every course.
   (Weekday patterns are shifted with it; the model sees them only through entropy/shares.)
3. The outcome in Stride's own terms: a learner of a TRAINING course who stayed (truth 0) gets
   one ``x-kdd-return`` event on the first day after the window; a dropout gets none. Then
   ``train_risk_model --as-of <window end + 10>`` learns from Stride's own history (weekly
   cut-offs back from the window end, labels = no activity in the next 10 days, enrolments
   already silent for 10 days left out), validated by course and calibrated on the latest
   cut-off.
4. The held-out courses are imported afterwards (their outcome events are never sent), scored by
   ``score_risk --as-of <window end>`` and read back with ``export_scores``; ROC AUC of
   ``drop_off_risk`` against the truth is reported per course and pooled, next to the
   "days since last activity" rule, with the calibration of the pooled scores by predicted
   decile (observed drop-out rate against mean prediction).
5. Lead time: for each held-out dropout, the risk the active model gave them 7 days before
   their last activity (the scoring computation as of that day, one pass per day over the
   scored courses' learners, see ``risk_before``); the share flagged high or critical (>= 60)
   is reported.

Usage (defaults: the 21 open courses, fixed split of 14 train / 7 scored = fold 0 of 3)::

    python bench/kddcup.py                       # fixed split
    python bench/kddcup.py --folds 3             # every course scored once, 3 models
    python bench/kddcup.py --train-courses 'DIR/trainCourse*.csv.gz' \\
        --score-courses SEALED_DIR --truth SEALED_TRUTH.csv    # e.g. the sealed holdout
"""

from __future__ import annotations

import argparse
import csv
import datetime
import glob
import io
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _setup import setup_django

DATA = Path("/work/shared/data/kddcup2015")
KINDS = ("access", "discussion", "navigate", "page_close", "problem", "video", "wiki")
LOG_DAYS = 30
HORIZON = 10
WINDOW_END = datetime.date(2015, 6, 30)
SOURCE = "kdd"
BATCH = 20_000
LEAD_DAYS = 7  # lead time: the risk this many days before a dropout's last activity
HIGH_RISK = 60  # "high" and "critical" start here


def _paths(spec: str) -> list[str]:
    """Return the course files named by a directory, a glob or a single file."""
    p = Path(spec)
    if p.is_dir():
        return sorted(glob.glob(str(p / "*.csv*")))
    return sorted(glob.glob(spec))


def course_name(path: str) -> str:
    return Path(path).name.split(".")[0].removeprefix("trainCourse")


def load_course(path: str) -> dict:
    """Return a course's enrolment ids and its (n, 30, 7) daily counts, in log order."""
    d = pd.read_csv(path).sort_values(["enrollment_id", "time"])
    ids = d["enrollment_id"].to_numpy()[::LOG_DAYS]
    counts = d[[f"event_{k}" for k in KINDS]].to_numpy().reshape(len(ids), LOG_DAYS, len(KINDS))
    if not (d["enrollment_id"].to_numpy().reshape(-1, LOG_DAYS) == ids[:, None]).all():
        raise ValueError(f"{path}: expected {LOG_DAYS} rows per enrolment")
    return {"name": course_name(path), "ids": ids, "counts": counts.astype(np.int64)}


def _day_start(day_index: np.ndarray) -> np.ndarray:
    """Return the UTC midnight (datetime64[s]) of log day ``day_index`` after alignment."""
    first = np.datetime64(WINDOW_END - datetime.timedelta(days=LOG_DAYS - 1), "s")
    return first + day_index.astype("timedelta64[D]").astype("timedelta64[s]")


def course_items(course: dict) -> list[dict]:
    """Return the course's events as ingestion items: one per count, deterministic ids/times."""
    ids, counts = course["ids"], course["counts"]
    e, d, k = np.nonzero(counts)
    c = counts[e, d, k]
    # Per (enrolment, day): the events of all kinds follow each other from a start hour.
    n_day = counts.sum(axis=2)[e, d]
    start = (6 + (ids[e] * 7 + d * 13) % 14) * 3600
    spacing = np.minimum(90, (86_399 - start) // np.maximum(n_day, 1))
    rep = np.repeat(np.arange(len(c)), c)
    j = np.arange(len(rep)) - np.repeat(np.cumsum(c) - c, c)  # n-th event of its kind that day
    before = np.cumsum(counts[e, d], axis=1) - counts[e, d]  # events of earlier kinds that day
    seq = before[np.arange(len(c)), k][rep] + j
    when = _day_start(d[rep]) + (start[rep] + seq * spacing[rep]).astype("timedelta64[s]")
    stamps = pd.to_datetime(when).tz_localize("UTC").to_pydatetime()
    user = ids[e][rep]
    return [
        {
            "id": f"{u}-{day}-{KINDS[kind]}-{n}",
            "type": f"x-kdd-{KINDS[kind].replace('_', '-')}",
            "user": f"kdd-{u}",
            "course": f"kdd-{course['name']}",
            "occurred_at": ts,
        }
        for u, day, kind, n, ts in zip(
            user.tolist(), d[rep].tolist(), k[rep].tolist(), j.tolist(), stamps, strict=True
        )
    ]


def stay_items(course: dict, truth: pd.Series) -> list[dict]:
    """Return one ``x-kdd-return`` event the day after the window for each learner who stayed."""
    ids = course["ids"]
    stayed = ids[truth.reindex(ids).to_numpy() == 0]
    active = course["counts"].sum(axis=(1, 2)) > 0
    stayed = np.intersect1d(stayed, ids[active])  # never-seen learners are not Stride users
    at = datetime.datetime.combine(
        WINDOW_END + datetime.timedelta(days=1), datetime.time(12), datetime.UTC
    )
    return [
        {
            "id": f"{u}-return",
            "type": "x-kdd-return",
            "user": f"kdd-{u}",
            "course": f"kdd-{course['name']}",
            "occurred_at": at,
        }
        for u in stayed.tolist()
    ]


def ingest(items: list[dict]) -> int:
    """Send items through the ingestion service in batches; return how many were stored."""
    from engagement.services.ingestion import events_ingest

    stored = 0
    for s in range(0, len(items), BATCH):
        result = events_ingest(source=SOURCE, items=items[s : s + BATCH])
        if result.rejected:
            first = next(iter(result.rejected.items()))
            raise RuntimeError(f"ingestion rejected {len(result.rejected)} events, e.g. {first}")
        stored += result.accepted
    return stored


def auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def run_split(
    train: list[dict],
    score: list[dict],
    truth: pd.Series,
    timings: dict[str, float],
    resume: bool = False,
) -> pd.DataFrame:
    """Flush the bench database, train on ``train``, score ``score``; return per-learner rows."""
    from django.core.management import call_command

    def timed(label: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[label] = timings.get(label, 0.0) + time.perf_counter() - t0
        return out

    from engagement.models import Event

    items = [it for c in train for it in course_items(c)]
    items += [it for c in train for it in stay_items(c, truth)]
    if resume and Event.objects.filter(source=SOURCE).count() == len(items):
        # --resume: the database holds exactly this split's training events from a run that
        # stopped later on (ingestion is idempotent anyway; this only saves the time).
        print(f"  reusing the {len(items)} training events already stored", flush=True)
        from engagement.models import RiskModelVersion, ScoringRun

        RiskModelVersion.objects.all().delete()
        ScoringRun.objects.all().delete()
    else:
        timed("flush", call_command, "flush", interactive=False, verbosity=0)
        n = timed("ingest_train", ingest, items)
        print(f"  ingested {n} training events ({len(train)} courses)", flush=True)
    del items
    as_of_train = WINDOW_END + datetime.timedelta(days=HORIZON)
    timed(
        "train",
        call_command,
        "train_risk_model",
        f"--as-of={as_of_train.isoformat()}",
        f"--horizon-days={HORIZON}",
        stdout=sys.stdout,
    )
    items = [it for c in score for it in course_items(c)]
    n = timed("ingest_score", ingest, items)
    print(f"  ingested {n} events of the {len(score)} scored courses", flush=True)
    del items
    timed("score", call_command, "score_risk", f"--as-of={WINDOW_END}", stdout=sys.stdout)
    buf = io.StringIO()
    timed(
        "export",
        call_command,
        "export_scores",
        "--format=csv",
        f"--as-of={WINDOW_END}",
        stdout=buf,
    )
    exported = pd.DataFrame(list(csv.DictReader(io.StringIO(buf.getvalue()))))
    risk = dict(
        zip(
            zip(exported["user"], exported["course"], strict=True),
            exported["drop_off_risk"].astype(int),
            strict=True,
        )
    )

    rows = []
    for c in score:
        counts = c["counts"].sum(axis=2)
        active = counts > 0
        seen = active.any(axis=1)
        last = LOG_DAYS - 1 - np.argmax(active[:, ::-1], axis=1)
        first = np.argmax(active, axis=1)
        for i, enr in enumerate(c["ids"].tolist()):
            if not seen[i]:
                continue  # no event in the window: never a Stride learner, not scored
            rows.append(
                {
                    "course": c["name"],
                    "enrollment": enr,
                    "truth": int(truth[enr]),
                    "risk": risk.get((f"kdd-{enr}", f"kdd-{c['name']}"), np.nan),
                    "days_since_last": LOG_DAYS - 1 - last[i],
                    "first_day": int(first[i]),
                    "last_day": int(last[i]),
                }
            )
    frame = pd.DataFrame(rows)
    frame["risk_7d_before"] = timed("lead_time", risk_before, frame, LEAD_DAYS)
    return frame


def risk_before(frame: pd.DataFrame, lag: int) -> np.ndarray:
    """Return each dropout's risk ``lag`` days before their last active day (nan otherwise).

    The scoring service's computation (activity tensor, signals, the active model's
    probability, ``drop_off_risk`` = round(100 p)), once per needed day, for the learners of
    the scored courses only: signals compare a learner with their own course, so leaving the
    other courses out changes no score and saves most of the work. A learner not yet seen that
    day (no enrolment yet) has none.
    """
    from accounts.models import User
    from engagement.scoring.signals import compute_signals
    from engagement.selectors.activity import learner_activity
    from engagement.services.scoring import active_risk_model
    from learning.models import Course

    model, _, _ = active_risk_model()
    out = np.full(len(frame), np.nan)
    day = frame["last_day"].to_numpy() - lag
    need = (frame["truth"].to_numpy() == 1) & (day >= frame["first_day"].to_numpy())
    users = dict(
        User.objects.filter(external_id__startswith="kdd-").values_list("external_id", "id")
    )
    courses = dict(
        Course.objects.filter(external_id__startswith="kdd-").values_list("external_id", "id")
    )
    uid = np.array([users.get(f"kdd-{e}", -1) for e in frame["enrollment"].tolist()])
    cid = np.array([courses.get(f"kdd-{c}", -1) for c in frame["course"].tolist()])
    first = WINDOW_END - datetime.timedelta(days=LOG_DAYS - 1)
    for d in np.unique(day[need]).tolist():
        act = learner_activity(as_of=first + datetime.timedelta(days=int(d)), user_ids=uid.tolist())
        risk = np.rint(100.0 * model.predict_proba(compute_signals(act))).astype(np.int64)
        got = dict(
            zip(
                zip(act.user_ids.tolist(), act.course_ids.tolist(), strict=True),
                risk.tolist(),
                strict=True,
            )
        )
        for i in np.flatnonzero(need & (day == d)).tolist():
            out[i] = got.get((int(uid[i]), int(cid[i])), np.nan)
    return out


def decile_table(y: np.ndarray, p: np.ndarray) -> list[dict]:
    """Return the calibration by predicted decile: ten equal-count groups by ``p``."""
    order = np.argsort(p, kind="stable")
    table = []
    for k, rows in enumerate(np.array_split(order, 10)):
        if rows.size:
            table.append(
                {
                    "decile": k + 1,
                    "n": int(rows.size),
                    "predicted": float(p[rows].mean()),
                    "observed": float(y[rows].mean()),
                }
            )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-courses", help="Directory, glob or file of training courses.")
    parser.add_argument("--score-courses", help="Directory, glob or file of held-out courses.")
    parser.add_argument("--truth", default=str(DATA / "truth_open_courses.csv"))
    parser.add_argument(
        "--folds",
        type=int,
        default=1,
        help="Without --train/--score: 1 = fixed split (fold 0 of 3: 14 train, 7 scored); "
        "K >= 2 = K-fold over the open courses, every course scored once.",
    )
    parser.add_argument("--db", default="stride_bench_kdd")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="Single split only: keep the training events of an earlier run of the same split.",
    )
    args = parser.parse_args()

    setup_django(args.db)
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    truth = pd.read_csv(args.truth).set_index("enrollment_id")["label"]
    if args.train_courses or args.score_courses:
        if not (args.train_courses and args.score_courses):
            parser.error("--train-courses and --score-courses go together")
        train_paths, score_paths = _paths(args.train_courses), _paths(args.score_courses)
        overlap = {course_name(p) for p in train_paths} & {course_name(p) for p in score_paths}
        if overlap:
            parser.error(f"courses both trained on and scored: {sorted(overlap)}")
        splits = [(train_paths, score_paths)]
    else:
        every = _paths(str(DATA / "per_course_daily_counts"))
        k = max(args.folds, 1)
        parts = [every[f::3] for f in range(3)] if k == 1 else [every[f::k] for f in range(k)]
        chosen = parts[:1] if k == 1 else parts
        splits = [([p for p in every if p not in part], part) for part in chosen]

    timings: dict[str, float] = {"migrate": time.perf_counter() - t0}
    frames = []
    for f, (train_paths, score_paths) in enumerate(splits):
        train = [load_course(p) for p in train_paths]
        score = [load_course(p) for p in score_paths]
        print(
            f"split {f + 1}/{len(splits)}: train on {[c['name'] for c in train]}, "
            f"score {[c['name'] for c in score]}",
            flush=True,
        )
        frame = run_split(train, score, truth, timings, resume=args.resume and len(splits) == 1)
        frame["split"] = f
        frames.append(frame)
    res = pd.concat(frames, ignore_index=True)
    missing = int(res["risk"].isna().sum())
    res = res.dropna(subset=["risk"])

    print("\ncourse   learners  dropout   AUC model  AUC days-since-last")
    per_course = []
    for name, g in res.groupby("course", sort=True):
        a, b = (
            auc(g["truth"].to_numpy(), g["risk"].to_numpy()),
            auc(g["truth"].to_numpy(), g["days_since_last"].to_numpy()),
        )
        per_course.append(a)
        print(f"{name:>7} {len(g):9d} {g['truth'].mean():8.1%} {a:11.3f} {b:19.3f}")
    overall = auc(res["truth"].to_numpy(), res["risk"].to_numpy())
    rule = auc(res["truth"].to_numpy(), res["days_since_last"].to_numpy())
    print(
        f"\noverall AUC (pooled over {len(res)} held-out learners): model {overall:.4f}, "
        f"days-since-last-activity rule {rule:.4f}"
    )
    print(
        f"per-course AUC: mean {np.nanmean(per_course):.4f}, min {np.nanmin(per_course):.4f} "
        f"over {len(per_course)} courses; learners without a score: {missing}"
    )
    before = res.loc[res["truth"] == 1, "risk_7d_before"].to_numpy(dtype=np.float64)
    scored_before = before[np.isfinite(before)]
    print(
        f"lead time: of {int((res['truth'] == 1).sum())} held-out dropouts, "
        f"{scored_before.size} had a score {LEAD_DAYS} days before their last activity; "
        f"{(scored_before >= HIGH_RISK).mean():.1%} of those were flagged high or critical "
        f"(>= {HIGH_RISK})"
    )
    table = decile_table(res["truth"].to_numpy(dtype=np.float64), res["risk"].to_numpy() / 100.0)
    print("\ncalibration by predicted decile (pooled held-out learners)")
    print("decile      n  predicted  observed   diff")
    for row in table:
        print(
            f"{row['decile']:6d} {row['n']:6d} {row['predicted']:10.3f} {row['observed']:9.3f} "
            f"{row['observed'] - row['predicted']:+6.3f}"
        )
    worst = max(abs(r["observed"] - r["predicted"]) for r in table)
    print(f"largest decile gap: {worst:.3f}")
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print(f"total {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
