"""External check of the drop-off model on a university's long courses (OULAD, Open University).

Kuzilek, Hlosta & Zdrahal (2017), Open University Learning Analytics dataset, Scientific Data
4:170171 (CC BY 4.0), read in place from /work/shared/data/oulad. Only the presentations whose
click log (studentVle) is complete in the available prefix are used: AAA 2013J, AAA 2014J and
BBB 2013B (19 to 38 weeks long, 383 / 365 / 1,767 enrolments, with assessments).

Everything goes through the product path, against a dedicated PostgreSQL database:

1. Each presentation is a Stride course (``oulad-<module>-<presentation>``, with its start and
   end dates) and each of its students a Stride learner (``oulad-<module>-<presentation>-<id>``:
   a student repeating a module in another presentation is another learner, so no learner's
   history spans two presentations). They are written with ``courses_upsert``,
   ``users_upsert`` and ``enrollments_upsert`` as an integrator's sync would: enrolled at the
   registration date (registrations earlier than 30 days before the start are dated 30 days
   before it: months of pre-course silence are not "never started"; a missing one is the
   start), withdrawn at the
   unregistration date, completed at the course end for a pass or distinction.
2. Every presentation starts on the same calendar day (``START``; OULAD dates are days from
   the start). Each row of the click log becomes one event of a custom type
   ``x-oulad-<activity type>`` (``{"clicks": n}``), each scored assessment submission a
   ``quiz_submitted`` (score out of 100, passed at 40), sent through ``events_ingest`` with
   deterministic ids and times spread through the learner's day.
3. For each presentation P (every one is held out once: no tuning to one presentation), the
   database is flushed, the two others are imported whole and ``train_risk_model --as-of
   <end of the longest + 10 days>`` learns from their full history (weekly cut-offs across
   the whole course; two courses, so it is validated by time). Then P is imported and
   scored by ``score_risk --as-of`` the end of week 4 (day 27) and of week 8 (day 55), read
   back with ``export_scores``.
4. Truth per enrolment of P still active on the scoring day: 1 for ``final_result`` =
   Withdrawn, and for a Fail with no click in the presentation's last 28 days (a learner who
   had stopped coming and failed); 0 for Pass, Distinction, and a Fail still active at the
   end. ROC AUC of ``drop_off_risk`` against it per presentation and week, and pooled over
   the three held-out presentations, next to the "days since last activity" rule (never
   active = longest gone); and, for reference, against Withdrawn alone and against Withdrawn
   or Fail.

    python bench/oulad.py                      # all three folds
    python bench/oulad.py --hold-out AAA-2014J # one fold
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from _setup import setup_django

DATA = Path("/work/shared/data/oulad")
PRESENTATIONS = (("AAA", "2013J"), ("AAA", "2014J"), ("BBB", "2013B"))
START = datetime.date(2024, 10, 7)  # day 0 of every presentation (a Monday)
WEEKS = (4, 8)  # scored at the end of these weeks: days 27 and 55
HORIZON = 10
EARLIEST_ENROLMENT = -30  # registrations before this day (from the start) are dated on it
FAIL_SILENT_DAYS = 28
PASS_MARK = 40.0
SOURCE = "oulad"
BATCH = 20_000


def key(module: str, presentation: str) -> str:
    return f"{module}-{presentation}"


def load() -> dict[str, dict]:
    """Return, per presentation key, its length, students, clicks and assessment submissions."""
    courses = pd.read_csv(DATA / "courses.csv")
    info = pd.read_csv(DATA / "studentInfo.csv")
    reg = pd.read_csv(DATA / "studentRegistration.csv", na_values="?")
    assessments = pd.read_csv(DATA / "assessments.csv", na_values="?")
    submitted = pd.read_csv(DATA / "studentAssessment.csv")
    vle = pd.read_csv(DATA / "vle.csv", na_values="?")[["id_site", "activity_type"]]
    with zipfile.ZipFile(DATA / "studentVle_prefix_first_1048575_rows.zip") as z:
        clicks = pd.read_csv(z.open("studentVle.txt"), sep="\t")
    clicks = clicks.merge(vle, on="id_site", how="left")
    out = {}
    for module, presentation in PRESENTATIONS:

        def of(frame: pd.DataFrame, module: str = module, presentation: str = presentation):
            return frame[
                (frame["code_module"] == module) & (frame["code_presentation"] == presentation)
            ]

        length = int(of(courses)["module_presentation_length"].iloc[0])
        students = of(info)[["id_student", "final_result"]].merge(
            of(reg)[["id_student", "date_registration", "date_unregistration"]],
            on="id_student",
        )
        ids = set(of(assessments)["id_assessment"])
        subs = submitted[submitted["id_assessment"].isin(ids) & (submitted["is_banked"] == 0)]
        subs = subs[subs["id_student"].isin(set(students["id_student"]))]
        log = of(clicks)[["id_student", "id_site", "date", "sum_click", "activity_type"]]
        out[key(module, presentation)] = {
            "module": module,
            "presentation": presentation,
            "length": length,
            "students": students.reset_index(drop=True),
            "clicks": log.reset_index(drop=True),
            "submissions": subs.reset_index(drop=True),
        }
    return out


def truth(p: dict, kind: str = "dropout") -> pd.Series:
    """Return 1 per student who dropped out (see the module docstring), indexed by id.

    ``kind`` "withdrawn" counts Withdrawn only, "not_passed" Withdrawn or any Fail: the two
    readings either side of the definition, printed beside it.
    """
    st = p["students"]
    late = p["clicks"][p["clicks"]["date"] > p["length"] - FAIL_SILENT_DAYS]["id_student"]
    withdrawn = st["final_result"] == "Withdrawn"
    failed = st["final_result"] == "Fail"
    label = {
        "dropout": withdrawn | (failed & ~st["id_student"].isin(set(late))),
        "withdrawn": withdrawn,
        "not_passed": withdrawn | failed,
    }[kind]
    return pd.Series(label.astype(int).to_numpy(), index=st["id_student"].to_numpy())


def course_ext(p: dict) -> str:
    return f"oulad-{p['module']}-{p['presentation']}"


def user_ext(p: dict, student: int) -> str:
    return f"{course_ext(p)}-{student}"


def _at(day: int, seconds: int = 9 * 3600) -> datetime.datetime:
    return datetime.datetime.combine(
        START + datetime.timedelta(days=int(day)), datetime.time(), datetime.UTC
    ) + datetime.timedelta(seconds=int(seconds))


def import_presentation(p: dict) -> int:
    """Write the presentation's course, learners, enrolments and events; return events stored."""
    from accounts.services import users_upsert
    from engagement.services.ingestion import events_ingest
    from learning.services import courses_upsert, enrollments_upsert

    course = course_ext(p)
    courses_upsert(
        items=[
            {
                "external_id": course,
                "title": f"OULAD {p['module']} {p['presentation']}",
                "starts_on": START,
                "ends_on": START + datetime.timedelta(days=p["length"]),
            }
        ]
    )
    st = p["students"]
    users = [
        {"external_id": user_ext(p, s), "email": f"{user_ext(p, s).lower()}@oulad.example"}
        for s in st["id_student"].tolist()
    ]
    for s in range(0, len(users), 5000):
        users_upsert(items=users[s : s + 5000])
    enrolments = []
    for row in st.itertuples(index=False):
        unreg = row.date_unregistration
        reg = int(row.date_registration) if pd.notna(row.date_registration) else 0
        start = max(reg, EARLIEST_ENROLMENT)
        if pd.notna(unreg) and unreg <= start:
            start = min(reg, int(unreg))  # withdrew before the course opened
        item = {"user": user_ext(p, row.id_student), "course": course, "enrolled_at": _at(start)}
        if row.final_result == "Withdrawn" and pd.notna(unreg):
            item.update(status="withdrawn", withdrawn_at=_at(int(unreg), 10 * 3600))
        elif row.final_result in ("Pass", "Distinction"):
            item.update(status="completed", completed_at=_at(p["length"], 12 * 3600))
        enrolments.append(item)
    for s in range(0, len(enrolments), 5000):
        enrollments_upsert(items=enrolments[s : s + 5000])
    return ingest(event_items(p), events_ingest)


def event_items(p: dict) -> list[dict]:
    """Return the presentation's clicks and submissions as ingestion items."""
    course = course_ext(p)
    log = p["clicks"]
    # Per learner and day, the day's rows follow each other from a start hour, a minute apart.
    first_hour = 7 + (log["id_student"].to_numpy() * 7 + log["date"].to_numpy() * 13) % 13
    seq = log.groupby(["id_student", "date"]).cumcount().to_numpy()
    seconds = first_hour * 3600 + np.minimum(seq, 600) * 60
    kinds = log["activity_type"].fillna("other").str.replace("_", "-")
    items = [
        {
            "id": f"{course}-vle-{i}",
            "type": f"x-oulad-{kind}",
            "user": user_ext(p, student),
            "course": course,
            "occurred_at": _at(day, sec),
            "properties": {"clicks": int(n)},
        }
        for i, (student, day, n, kind, sec) in enumerate(
            zip(
                log["id_student"].tolist(),
                log["date"].tolist(),
                log["sum_click"].tolist(),
                kinds.tolist(),
                seconds.tolist(),
                strict=True,
            )
        )
    ]
    subs = p["submissions"]
    for i, row in enumerate(subs.itertuples(index=False)):
        when = _at(int(row.date_submitted), 20 * 3600)
        base = {"id": f"{course}-sub-{i}", "user": user_ext(p, row.id_student), "course": course}
        if pd.notna(row.score):
            score = float(row.score)
            items.append(
                {
                    **base,
                    "type": "quiz_submitted",
                    "occurred_at": when,
                    "properties": {
                        "score": score,
                        "max_score": 100,
                        "quiz": str(row.id_assessment),
                        "passed": score >= PASS_MARK,
                    },
                }
            )
        else:
            items.append(
                {
                    **base,
                    "type": "assignment_submitted",
                    "occurred_at": when,
                    "properties": {"assignment": str(row.id_assessment)},
                }
            )
    return items


def ingest(items: list[dict], events_ingest) -> int:
    """Send items through the ingestion service in batches; return how many were stored."""
    stored = 0
    for s in range(0, len(items), BATCH):
        result = events_ingest(source=SOURCE, items=items[s : s + BATCH])
        if result.rejected:
            first = next(iter(result.rejected.items()))
            raise RuntimeError(f"ingestion rejected {len(result.rejected)} events, e.g. {first}")
        stored += result.accepted
    return stored


def days_since_last(p: dict, day: int) -> pd.Series:
    """Return each student's days since their last activity on or before ``day`` (inf: none)."""
    dates = pd.concat(
        [
            p["clicks"][["id_student", "date"]],
            p["submissions"][["id_student", "date_submitted"]].rename(
                columns={"date_submitted": "date"}
            ),
        ]
    )
    last = dates[dates["date"] <= day].groupby("id_student")["date"].max()
    out = pd.Series(np.inf, index=p["students"]["id_student"].to_numpy())
    out.loc[last.index] = day - last.to_numpy()
    return out


def auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if len(np.unique(y)) == 2 else float("nan")


def run_fold(held: str, data: dict[str, dict], timings: dict[str, float]) -> pd.DataFrame:
    """Train on every presentation but ``held``, score ``held``; return its scored rows."""
    from django.core.management import call_command

    def timed(label: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[label] = timings.get(label, 0.0) + time.perf_counter() - t0
        return out

    timed("flush", call_command, "flush", interactive=False, verbosity=0)
    train = [k for k in data if k != held]
    for k in train:
        n = timed("import_train", import_presentation, data[k])
        print(f"  imported {k}: {len(data[k]['students'])} enrolments, {n} events", flush=True)
    as_of = START + datetime.timedelta(days=max(data[k]["length"] for k in train) + HORIZON)
    timed(
        "train",
        call_command,
        "train_risk_model",
        f"--as-of={as_of.isoformat()}",
        f"--horizon-days={HORIZON}",
        stdout=sys.stdout,
    )
    p = data[held]
    n = timed("import_scored", import_presentation, p)
    print(f"  imported {held}: {len(p['students'])} enrolments, {n} events", flush=True)
    y, y_withdrawn, y_not_passed = truth(p), truth(p, "withdrawn"), truth(p, "not_passed")
    frames = []
    for week in WEEKS:
        day = 7 * week - 1
        on = START + datetime.timedelta(days=day)
        timed("score", call_command, "score_risk", f"--as-of={on}", stdout=sys.stdout)
        buf = io.StringIO()
        timed("export", call_command, "export_scores", "--format=csv", f"--as-of={on}", stdout=buf)
        exported = pd.DataFrame(list(csv.DictReader(io.StringIO(buf.getvalue()))))
        mine = exported[exported["course"] == course_ext(p)]
        student = mine["user"].str.rsplit("-", n=1).str[-1].astype(int).to_numpy()
        rule = days_since_last(p, day)
        frames.append(
            pd.DataFrame(
                {
                    "presentation": held,
                    "week": week,
                    "student": student,
                    "truth": y.reindex(student).to_numpy(),
                    "withdrawn": y_withdrawn.reindex(student).to_numpy(),
                    "not_passed": y_not_passed.reindex(student).to_numpy(),
                    "risk": mine["drop_off_risk"].astype(int).to_numpy(),
                    "never_started": (mine["never_started"] == "yes").to_numpy(),
                    "days_since_last": rule.reindex(student).to_numpy(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--hold-out",
        choices=[key(m, p) for m, p in PRESENTATIONS],
        action="append",
        help="Presentation(s) to hold out, one fold each (default: every one).",
    )
    parser.add_argument("--db", default="stride_bench_oulad")
    args = parser.parse_args()

    setup_django(args.db)
    from django.core.management import call_command

    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    data = load()
    timings: dict[str, float] = {"load": time.perf_counter() - t0}
    folds = args.hold_out or list(data)
    frames = []
    for f, held in enumerate(folds):
        print(f"fold {f + 1}/{len(folds)}: train on {[k for k in data if k != held]}, score {held}")
        frames.append(run_fold(held, data, timings))
    res = pd.concat(frames, ignore_index=True)
    # Never active by the scoring day ranks as longest gone for the rule.
    rule = res["days_since_last"].replace(np.inf, 1e6)

    print(
        "\npresentation  week  enrolments  dropout  never started  AUC model  AUC days-since-last"
    )
    for (held, week), g in res.groupby(["presentation", "week"], sort=True):
        y = g["truth"].to_numpy()
        print(
            f"{held:>12} {week:5d} {len(g):11d} {y.mean():8.1%} "
            f"{int(g['never_started'].sum()):14d} {auc(y, g['risk'].to_numpy()):10.3f} "
            f"{auc(y, rule[g.index].to_numpy()):20.3f}"
        )
    print("\nthe same scores against the two other readings of the outcome (model / rule):")
    for (held, week), g in res.groupby(["presentation", "week"], sort=True):
        r = rule[g.index].to_numpy()
        parts = [
            f"{name} {auc(g[name].to_numpy(), g['risk'].to_numpy()):.3f} / "
            f"{auc(g[name].to_numpy(), r):.3f}"
            for name in ("withdrawn", "not_passed")
        ]
        print(f"{held:>12} week {week}: " + ", ".join(parts))
    print()
    for week, g in res.groupby("week"):
        r = rule[g.index]
        per = [
            auc(h["truth"].to_numpy(), h["risk"].to_numpy()) for _, h in g.groupby("presentation")
        ]
        print(
            f"week {week}: pooled over {len(g)} held-out enrolments: model "
            f"{auc(g['truth'].to_numpy(), g['risk'].to_numpy()):.4f}, days-since-last-activity "
            f"rule {auc(g['truth'].to_numpy(), r.to_numpy()):.4f}; per presentation mean "
            f"{np.nanmean(per):.4f}, min {np.nanmin(per):.4f}"
        )
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print(f"total {time.perf_counter() - t0:.1f}s")


if __name__ == "__main__":
    main()
