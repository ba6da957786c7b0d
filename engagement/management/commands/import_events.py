"""Import behaviour events from a JSON Lines file (optionally gzipped) through ingestion."""

import gzip
import json
import os
import queue
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from engagement.catalogue import is_utf8_encodable
from engagement.services.ingestion import IngestResult
from engagement.services.ingestion.bulk_import import events_ingest_batches

SHOWN_ERRORS = 10
CHUNK_BYTES = 1 << 20  # read this much at a time and split it into lines ourselves
Errors = list[tuple[int, dict[str, list[str]]]]
# Where a batch came from: its events' line numbers, its lines that are not JSON, bytes read.
Origin = tuple[list[int], Errors, int]
Batch = tuple[list[Any], Origin]


class Command(BaseCommand):
    help = (
        "Import events from a JSON Lines file (one event object per line, .gz allowed) through "
        "the same ingestion as the API. Idempotent: importing a file again stores nothing twice."
    )
    # The system checks import every URL module (and with them the scoring stack), which
    # takes seconds and tells an import nothing; `manage.py check` is there for that.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A .jsonl or .jsonl.gz file.")
        parser.add_argument(
            "--source", default="import", help="Idempotency namespace of the events' ids."
        )
        parser.add_argument(
            "--batch-size", type=int, default=10_000, help="Events per transaction (10000)."
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="Batches stored at once, each on its own database connection (2; PostgreSQL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path, source, batch_size = options["path"], options["source"], options["batch_size"]
        # A byte that is not UTF-8 in the arguments arrives as a lone surrogate.
        if not source or len(source) > 64 or "\x00" in source or not is_utf8_encodable(source):
            raise CommandError("--source must be 1 to 64 characters of valid text.")
        if batch_size < 1 or options["workers"] < 1:
            raise CommandError("--batch-size and --workers must be at least 1.")
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below; the bar reads its position
        except OSError as exc:
            raise CommandError(f"Cannot open {path}: {exc.strerror}.") from exc

        accepted = duplicates = 0
        errors: Errors = []
        started = time.perf_counter()
        bar = tqdm(
            total=os.fstat(raw.fileno()).st_size,
            unit="B",
            unit_scale=True,
            desc="import",
            file=sys.stderr,
            mininterval=0.5,
        )

        def done(result: IngestResult, origin: Origin) -> None:
            nonlocal accepted, duplicates
            line_numbers, bad, pos = origin
            accepted += result.accepted
            duplicates += len(result.duplicates)
            errors.extend(bad)
            errors.extend((line_numbers[i], f) for i, f in result.rejected.items())
            bar.update(max(0, pos - bar.n))
            bar.set_postfix_str(
                f"accepted={accepted:,} duplicates={duplicates:,} rejected={len(errors):,}"
            )

        with raw:
            stream = gzip.open(raw) if path.endswith(".gz") else raw  # noqa: SIM115 - in `raw`
            try:
                events_ingest_batches(
                    source=source,
                    batches=_prefetched(_batches(stream, raw, batch_size)),
                    workers=options["workers"],
                    done=done,
                )
            except (OSError, EOFError) as exc:
                raise CommandError(f"Cannot read {path}: {exc}") from exc
            finally:
                bar.close()

        elapsed = time.perf_counter() - started
        total = accepted + duplicates + len(errors)
        self.stdout.write(
            f"Read {total} events in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f} events/s): "
            f"{accepted} accepted, {duplicates} duplicates, {len(errors)} rejected."
        )
        for line, fields in sorted(errors)[:SHOWN_ERRORS]:
            reasons = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in fields.items())
            self.stdout.write(f"  line {line}: {reasons}")
        if len(errors) > SHOWN_ERRORS:
            self.stdout.write(f"  ... and {len(errors) - SHOWN_ERRORS} more rejected lines.")


def _lines(stream: IO[bytes]) -> Iterator[bytes]:
    """The lines of `stream`, read in large chunks (line by line costs more than decoding)."""
    rest = b""
    while chunk := stream.read(CHUNK_BYTES):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


def _loads(line: bytes) -> Any:
    """Decode one JSON line: orjson is several times faster than json, which is the reference.

    orjson refuses what json accepts beyond the standard (NaN, Infinity, integers beyond 64
    bits, lone surrogates such as \\ud800, which ingestion rejects by field) and words errors
    its own way, so json decides whenever orjson refuses a line. Nesting deeper than orjson's
    limit (1,024) is beyond json's recursion limit too: that line is not valid JSON.
    """
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as refused:
        try:
            return json.loads(line)
        except RecursionError:
            raise ValueError(str(refused)) from None


def _batches(stream: IO[bytes], raw: IO[bytes], batch_size: int) -> Iterator[Batch]:
    """Yield (events, (their line numbers, lines that are not JSON, bytes read)) per batch."""
    batch: list[Any] = []
    line_numbers: list[int] = []
    bad: Errors = []
    loads = _loads
    for number, line in enumerate(_lines(stream), start=1):
        if not line.strip():
            continue
        try:
            batch.append(loads(line))
        except ValueError as exc:  # includes bad UTF-8
            bad.append((number, {"line": [f"Not valid JSON: {exc}"]}))
            continue
        line_numbers.append(number)
        if len(batch) >= batch_size:
            yield batch, (line_numbers, bad, raw.tell())
            batch, line_numbers, bad = [], [], []
    if batch or bad:
        yield batch, (line_numbers, bad, raw.tell())


def _prefetched(batches: Iterator[Batch]) -> Iterator[Batch]:
    """Read and decode the next batch in a thread while the current one is being stored.

    Database round trips release the GIL, so JSON decoding overlaps with them.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    end = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not put(batch):
                    return
        except BaseException as exc:  # handed to the consuming thread, which raises it
            put(exc)
        put(end)

    reader = threading.Thread(target=read, name="import-events-reader", daemon=True)
    reader.start()
    try:
        while (item := ready.get()) is not end:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join()
