"""Bulk SQL for gamification's writers: inserting rows that may exist already while learning
which ones were new (ON CONFLICT DO NOTHING ... RETURNING, on PostgreSQL and SQLite alike), and
binding long lists of values on PostgreSQL cheaply (`array_literal`).

`core.bulk.rows_insert` skips stored rows silently; the ledger and the moments must know what
they added (to add it to totals, to hand it to handlers), so the database says so here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import psycopg
from django.db import IntegrityError, connection, models, transaction

from core.bulk import Column, fetch_rows, staged_rows

# Up to this many rows go as one INSERT ... VALUES; more (imports) are COPied into a temporary
# table first on PostgreSQL, where binding thousands of parameters costs more than the COPY.
VALUES_MAX_ROWS = 200


UNIQUE_VIOLATION = "23505"


def array_literal(values: Iterable[int | str | None]) -> str:
    """A PostgreSQL array literal of `values`, to bind as one text parameter cast to an array
    type (``= ANY(%s::bigint[])``).

    psycopg dumps a Python list element by element at several microseconds each; for the
    thousands of ids of a batch the query would cost less than binding its parameters.
    """
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, int):
            parts.append(str(value))
        else:
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"


def rows_copy_new(
    model: type[models.Model], columns: Sequence[Column], rows: Sequence[Sequence[Any]]
) -> list[int] | None:
    """COPY `rows` straight into `model`'s table with ids drawn from its sequence; return the
    ids in row order, or None (nothing written) if a row clashed with a stored one.

    PostgreSQL only, for a large batch the caller knows to be new: a COPY costs the database
    much less than INSERT ... SELECT from a staged copy, but cannot skip a clash, so a clash
    undoes the whole COPY (in a savepoint) and the caller inserts another way.
    """
    qn = connection.ops.quote_name
    table = model._meta.db_table
    pk = model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [qn(table), pk, len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        raw = cursor.cursor
        try:
            with (
                transaction.atomic(),
                raw.copy(
                    f"COPY {qn(table)} ({qn(pk)}, {', '.join(qn(name) for name, _ in columns)}) "
                    "FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(["bigint", *(kind for _, kind in columns)])
                write = copy.write_row
                for pk_value, row in zip(ids, rows, strict=True):
                    write((pk_value, *row))
        except psycopg.errors.UniqueViolation:  # the raw cursor raises psycopg's own error
            return None
    return ids


def rows_insert_new(
    model: type[models.Model],
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    returning: Sequence[str],
    expect_new: bool = False,
) -> list[tuple[Any, ...]]:
    """Insert `rows` (values in the order of `columns`), skipping any that clash with a stored
    row on any unique key; return the `returning` columns of the rows inserted.

    Rows are inserted in the order given. Values are as the columns take them (JSON as its text);
    on SQLite date-times come back as the driver returns them (text). `expect_new` says the
    caller knows of no stored clash (a batch checked under locks): on PostgreSQL a large batch
    is then inserted plainly, which costs the database less than ON CONFLICT's speculative
    insertion, and only a clash after all (in a savepoint, undone) falls back to ON CONFLICT.
    """
    if not rows:
        return []
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    cols = ", ".join(qn(name) for name, _ in columns)
    back = ", ".join(qn(name) for name in returning)
    if connection.vendor == "postgresql" and len(rows) > VALUES_MAX_ROWS:
        staging = f"stride_in_{model._meta.db_table[:40]}_new"
        insert = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {{staged}} "
        with staged_rows(staging, columns, rows) as incoming:
            if expect_new:
                try:
                    with transaction.atomic():
                        return fetch_rows(insert.format(staged=incoming) + f"RETURNING {back}")
                except IntegrityError as exc:
                    if getattr(exc.__cause__, "sqlstate", None) != UNIQUE_VIOLATION:
                        raise
            return fetch_rows(
                insert.format(staged=incoming) + f"ON CONFLICT DO NOTHING RETURNING {back}"
            )
    ops = connection.ops
    max_params = connection.features.max_query_params or 60000
    chunk = max(1, min(VALUES_MAX_ROWS * 5, max_params // len(columns)))
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
    sqlite = connection.vendor != "postgresql"

    def adapt(value: Any) -> Any:
        # Raw SQL bypasses the fields' conversions: SQLite stores dates as the ORM formats them.
        if sqlite and isinstance(value, datetime):
            return ops.adapt_datetimefield_value(value)
        if sqlite and isinstance(value, date):
            return ops.adapt_datefield_value(value)
        return value

    found: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            cursor.execute(
                f"INSERT INTO {table} ({cols}) VALUES "
                + ", ".join([placeholder] * len(part))
                + f" ON CONFLICT DO NOTHING RETURNING {back}",
                [adapt(value) for row in part for value in row],
            )
            found.extend(cursor.fetchall())
    return found
