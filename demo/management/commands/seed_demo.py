"""Fill Stride with demo instructors, courses, students and their behaviour."""

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from demo.services import demo_seed
from demo.video import DEMO_LESSON


class Command(BaseCommand):
    help = (
        "Create demo data through the public services (catalogue, learners, behaviour events, "
        "a trained model, scores, alerts); safe to run again (no duplicates)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--students", type=int, default=200)
        parser.add_argument("--days", type=int, default=60, help="Days of history to cover.")
        parser.add_argument(
            "--seed", type=int, default=7, help="Random seed (same seed, same data)."
        )

    def handle(self, *args: object, **options: int) -> None:
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc=f"{stage:>9}", file=self.stderr)
            bar.total = total
            bar.update(done - bar.n)

        try:
            summary = demo_seed(
                students=options["students"],
                days=options["days"],
                seed=options["seed"],
                progress=progress,
            )
        finally:
            for bar in bars.values():
                bar.close()
        model = f"model v{summary.model_version}" if summary.model_version else "baseline model"
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {summary.instructors} instructors, {summary.courses} courses, "
                f"{summary.lessons} lessons, {summary.students} students, "
                f"{summary.enrollments} enrollments, {summary.events} events "
                f"({summary.new_events} new), {summary.scored} learners scored with the "
                f"{model}, {summary.alerts} new alerts."
            )
        )
        # Gamification, from the same behaviour (9e): and how to sign in as a demo student.
        self.stdout.write(
            f"Gamification: {summary.learners_with_xp} learners with {summary.xp_awarded:,} XP, "
            f"{summary.achievements_unlocked} achievements unlocked, {summary.freezes_used} "
            f"streak freezes used, {summary.league_weeks_closed} league weeks closed "
            f"({summary.promoted} promotions)."
        )
        self.stdout.write(
            f"Interventions: {summary.messages_sent} in-app messages sent over two weeks, "
            f"{summary.messages_read} read, {summary.messages_clicked} clicked, "
            f"{summary.messages_converted} converted."
        )
        if summary.campaigns:
            self.stdout.write(
                "Campaigns: a weekly re-engagement campaign, an onboarding drip and a one-time "
                "announcement, with their run history (/dashboard/campaigns/); experiments on "
                "the weekly campaign's arms and on a lesson recap card (/dashboard/experiments/)."
            )
        if summary.video_views:
            self.stdout.write(
                f"Video: a generated clip on lesson {DEMO_LESSON}, transcoded to HLS, with "
                f"{summary.video_views} views (/dashboard/videos/, /me/videos/)."
            )
        if summary.analytics_days:
            self.stdout.write(
                f"Analytics: {summary.analytics_days} days aggregated (/dashboard/analytics/); "
                "weekly insights (/dashboard/insights/), star performers, the first-week "
                "analysis, live sessions with their no-show risk and the staff reports on its "
                "tabs."
            )
        if summary.sign_in_student:
            self.stdout.write(
                "Sign in as a demo student with a one-time link: "
                f"python manage.py sign_in_link {summary.sign_in_student}"
            )
