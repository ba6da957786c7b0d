"""Fill Stride with demo instructors, courses, lessons, students and enrollments."""

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from demo.services import demo_seed


class Command(BaseCommand):
    help = "Create demo data through the public services; safe to run again (no duplicates)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--students", type=int, default=200)
        parser.add_argument("--days", type=int, default=60, help="Days of history to cover.")
        parser.add_argument(
            "--seed", type=int, default=7, help="Random seed (same seed, same data)."
        )

    def handle(self, *args: object, **options: int) -> None:
        with tqdm(total=options["students"], desc="students", unit="st", file=self.stderr) as bar:
            summary = demo_seed(
                students=options["students"],
                days=options["days"],
                seed=options["seed"],
                progress=bar.update,
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: {summary.instructors} instructors, {summary.courses} courses, "
                f"{summary.lessons} lessons, {summary.students} students, "
                f"{summary.enrollments} enrollments."
            )
        )
