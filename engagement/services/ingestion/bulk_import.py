"""Ingesting a long stream of batches (an import): several connections at once where it pays."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from django.db import connection

from core.statement_timeout import statement_timeout_for_jobs
from engagement.services.ingestion import IngestResult, events_ingest

Context = TypeVar("Context")


def events_ingest_batches(
    *,
    source: str,
    batches: Iterable[tuple[Sequence[Mapping[str, Any]], Context]],
    workers: int,
    done: Callable[[IngestResult, Context], None],
) -> None:
    """Ingest every (items, context) batch with `events_ingest`; report each to `done`.

    `done(result, context)` is called on the calling thread, once per batch. On PostgreSQL,
    outside a transaction, `workers` threads store batches at once, each on its own
    connection, so that Python decodes and checks one batch while PostgreSQL stores another
    and both cores work; results then arrive in the order the batches finish. Elsewhere
    (SQLite serialises writers; a caller's uncommitted rows are invisible to other
    connections) the batches are stored one after the other on this connection. The first
    error of any batch is raised here, after the workers have stopped.
    """
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        for items, context in batches:
            done(events_ingest(source=source, items=items), context)
        return
    _ingest_in_parallel(source, batches, workers, done)


def _ingest_in_parallel(
    source: str,
    batches: Iterable[tuple[Sequence[Mapping[str, Any]], Context]],
    workers: int,
    done: Callable[[IngestResult, Context], None],
) -> None:
    """Store batches on `workers` threads, each with its own connection; report in this one."""
    Job = tuple[Sequence[Mapping[str, Any]], Context]
    jobs: queue.Queue[Job | None] = queue.Queue(maxsize=workers)
    results: queue.Queue[tuple[IngestResult | BaseException, Context]] = queue.Queue()

    def work() -> None:
        try:
            _configure_job_connection()
            while (job := jobs.get()) is not None:
                items, context = job
                try:
                    results.put((events_ingest(source=source, items=items), context))
                except BaseException as exc:  # handed to the reporting thread, which raises
                    results.put((exc, context))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, name=f"import-events-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    submitted = finished = 0

    def collect(block: bool) -> None:
        nonlocal finished
        while finished < submitted:
            try:
                outcome, context = results.get(block=block)
            except queue.Empty:
                return
            finished += 1
            if isinstance(outcome, BaseException):
                raise outcome
            done(outcome, context)
            block = False

    try:
        for batch in batches:
            jobs.put(batch)
            submitted += 1
            collect(block=False)
        while finished < submitted:
            collect(block=True)
    finally:
        # Drain what is queued so that every worker sees its stop signal.
        while True:
            try:
                jobs.get_nowait()
            except queue.Empty:
                break
        for _ in threads:
            jobs.put(None)
        for thread in threads:
            thread.join()


def _configure_job_connection() -> None:
    """Set up this thread's connection for bulk work: asynchronous commit, a job's timeout.

    Asynchronous commit means not waiting for each batch's WAL flush: a server crash may lose
    the last fraction of a second of committed batches, never corrupt anything, and running
    the import again restores them, since it is idempotent. Only for the import's own worker
    connections, which are closed when it ends.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    # Big batches may take longer than the web's statement timeout allows (a job, not a request).
    statement_timeout_for_jobs()
