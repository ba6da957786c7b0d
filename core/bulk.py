"""The one bulk writer: COPY into temporary tables, merges by unique key, natural-key upserts.

Three ways to write many rows, for three kinds of caller:

* `staged_rows`: COPY rows into a temporary table of the caller's own, for callers that go on
  with SQL of their own on the staged batch (event ingestion). PostgreSQL only.
* `rows_insert` and `rows_merge`: rows (tuples in the order of the columns given) inserted
  skipping those whose unique key is stored (saying, if asked, which rows were new), or
  merged into the stored ones by rules the database applies (`MergeRule`). On PostgreSQL
  they are COPied into a temporary table and moved with one INSERT ... SELECT (binding
  thousands of parameters costs more than the statement does); elsewhere (SQLite) they go
  as multi-row INSERT ... VALUES, as do inserts of a few rows (`VALUES_MAX_ROWS`).
* `upsert_rows`: the natural-key upsert behind every integrator sync endpoint, which says
  what it created and returns the rows.

Tables are always named by `Model._meta.db_table`, quoted; callers never write another app's
table name.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import psycopg
from django.db import IntegrityError, connection, models, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from psycopg import pq
from psycopg.types.json import set_json_dumps

from core.errors import DomainValidationError
from core.retry import ConcurrentWriteError

# Up to this many incoming rows, a merge checks each against the stored row by a probe of the
# unique index; more, and the planner chooses (see `MergeRule`). Callers that decide between
# a small-batch and a large-batch plan of their own use the same bound.
PROBE_MAX_ROWS = 2000
# Up to this many rows go as one INSERT ... VALUES; more are COPied into a temporary table
# first on PostgreSQL, where binding thousands of parameters costs more than the COPY.
VALUES_MAX_ROWS = 200
# SQLSTATEs of a statement that may have lost a race with a concurrent commit: a unique value
# taken meanwhile, or a referenced row deleted meanwhile.
_RACE_SQLSTATES = frozenset({"23505", "23503"})

_TIMESTAMPTZ_OID = psycopg.postgres.types["timestamptz"].oid
_to_json = json.JSONEncoder(separators=(",", ":")).encode

Column = tuple[str, str]
"""A column of a bulk write: (name, PostgreSQL type of the temporary table's column)."""


# --- COPY into a temporary table ------------------------------------------------------------


@contextmanager
def staged_rows(
    name: str, columns: Sequence[Column], rows: Iterable[Sequence[Any]]
) -> Iterator[str]:
    """COPY `rows` into the temporary table `name`; yield its quoted name; empty it after.

    PostgreSQL only. The table is created on first use and lives as long as the connection,
    so each connection stages into its own; each row has a value per column (JSON columns
    take the JSON text, or a value to encode). The table is emptied when the block ends
    normally; after an error the rollback undoes the COPY.
    """
    qn = connection.ops.quote_name
    table = qn(name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {table} ("
            + ", ".join(f"{qn(column)} {kind}" for column, kind in columns)
            + ")"
        )
        raw = cursor.cursor
        # The binary format, told the columns' types: dumping datetimes as text costs several
        # times more than the whole binary row. JSON is sent as the text the caller encoded.
        set_json_dumps(_json_text, context=raw)
        with raw.copy(
            f"COPY {table} ({', '.join(qn(column) for column, _ in columns)}) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types([kind for _, kind in columns])
            write = copy.write_row
            for row in rows:
                write(row)
        yield table
        cursor.execute(f"TRUNCATE {table}")


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else _to_json(value)


def fetch_rows(sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run a query and return all its rows, reading many timestamps fast on PostgreSQL.

    Django loads each PostgreSQL timestamptz through a Python subclass of psycopg's loader,
    which costs about ten times psycopg's own C loader; for a bulk read (thousands of rows
    with several timestamps each) that is most of the time. The C loader gives the same
    aware datetimes in the connection's time zone, so it is used where that zone is UTC (as
    Django sets it with USE_TZ). Elsewhere the rows are what the driver returns.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and connection.timezone_name == "UTC":
            cursor.cursor.adapters.register_loader(
                "timestamptz", psycopg.adapters.get_loader(_TIMESTAMPTZ_OID, pq.Format.TEXT)
            )
        cursor.execute(sql, params)
        return cursor.fetchall()


def _staging_name(model: type[models.Model], columns: Sequence[Column]) -> str:
    # One temporary table per model and column list, so that two writers of one model with
    # different columns never meet in one table.
    shape = zlib.crc32(repr(tuple(columns)).encode())
    return f"stride_in_{model._meta.db_table[:40]}_{shape:08x}"


# --- inserts and merges of rows -------------------------------------------------------------


@dataclass(frozen=True)
class MergeRule:
    """How rows merge into `model`'s table on the unique key `conflict`, decided by the database.

    Written as SQL, so that concurrent writers cannot undo each other's merges:

    * `update` is the `DO UPDATE` clause (`SET ... [WHERE ...]`) applied to a stored row with
      the same key: the stored row is named by the table's quoted name
      (`quote_name(model._meta.db_table)`), the incoming one by `EXCLUDED`;
    * `unchanged` is a condition on the stored row `t` and the incoming row `x` that holds
      when the merge would change nothing. On PostgreSQL such rows are left out before the
      upsert, so that busy rows are not rewritten or locked for nothing.
    """

    model: type[models.Model]
    columns: tuple[Column, ...]
    conflict: tuple[str, ...]
    unchanged: str
    update: str


def rows_merge(rule: MergeRule, rows: Sequence[Sequence[Any]]) -> None:
    """Insert `rows` (at most one per key) into the rule's table, merging with stored rows.

    Rows are written in key order, so that two overlapping concurrent merges lock rows in the
    same order and do not deadlock. For up to PROBE_MAX_ROWS rows the `unchanged` check
    stays a per-row probe of the unique index: for small batches (API requests) an anti-join
    tends to hash the whole table, which costs more the larger the table grows. Larger
    batches (imports) are left to the planner.
    """
    if not rows:
        return
    qn = connection.ops.quote_name
    keys = ", ".join(qn(column) for column in rule.conflict)
    if connection.vendor != "postgresql":
        # SQLite serialises writers: no lock order to keep, and nothing to skip cheaply.
        _insert_values(
            rule.model, rule.columns, rows, f"ON CONFLICT ({keys}) DO UPDATE {rule.update}"
        )
        return
    table = qn(rule.model._meta.db_table)
    cols = ", ".join(qn(name) for name, _ in rule.columns)
    match = " AND ".join(f"t.{qn(c)} = x.{qn(c)}" for c in rule.conflict)
    probe = "OFFSET 0" if len(rows) <= PROBE_MAX_ROWS else ""
    with (
        staged_rows(_staging_name(rule.model, rule.columns), rule.columns, rows) as incoming,
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {incoming} AS x "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS t WHERE {match} "
            f"AND ({rule.unchanged}) {probe}) "
            f"ORDER BY {keys} ON CONFLICT ({keys}) DO UPDATE {rule.update}"
        )


def rows_insert(
    model: type[models.Model],
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str] | None = None,
    returning: Sequence[str] = (),
    expect_new: bool = False,
) -> list[tuple[Any, ...]]:
    """Insert `rows`, skipping any whose key `conflict` is already stored (a retried write),
    or, without `conflict`, any that clash with a stored row on any unique key; return the
    `returning` columns of the rows inserted (nothing when none are named).

    Values are given as the columns take them (JSON as its text); on SQLite date-times come
    back as the driver returns them (text). `expect_new` says the caller knows of no stored
    clash (a batch checked under locks): on PostgreSQL a batch of more than VALUES_MAX_ROWS
    rows is then COPied straight into the table, with ids drawn from its sequence, which costs
    the database much less than INSERT ... SELECT from a staged copy; only a clash after all
    (the COPY undone in a savepoint) sends the batch the usual way. `returning` then names
    only the primary key and `columns`.
    """
    if not rows:
        return []
    qn = connection.ops.quote_name
    target = f"({', '.join(qn(column) for column in conflict)}) " if conflict else ""
    back = f" RETURNING {', '.join(qn(name) for name in returning)}" if returning else ""
    tail = f"ON CONFLICT {target}DO NOTHING{back}"
    if connection.vendor != "postgresql" or len(rows) <= VALUES_MAX_ROWS:
        return _insert_values(model, columns, rows, tail, returning=bool(returning))
    if expect_new:
        copied = _rows_copy_new(model, columns, rows, returning)
        if copied is not None:
            return copied
    table = qn(model._meta.db_table)
    cols = ", ".join(qn(name) for name, _ in columns)
    with staged_rows(_staging_name(model, columns), columns, rows) as incoming:
        statement = f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {incoming} {tail}"
        if returning:
            return fetch_rows(statement)
        with connection.cursor() as cursor:
            cursor.execute(statement)
    return []


def _rows_copy_new(
    model: type[models.Model],
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    returning: Sequence[str],
) -> list[tuple[Any, ...]] | None:
    """COPY `rows` straight into `model`'s table with ids drawn from its sequence; return the
    `returning` values of each row (the id, or the row's own), or None (nothing written) if a
    row clashed with a stored one.

    A COPY cannot skip a clash, so a clash undoes the whole COPY (in a savepoint).
    """
    qn = connection.ops.quote_name
    table = model._meta.db_table
    pk = model._meta.pk.column
    position = {name: index for index, (name, _) in enumerate(columns)}
    picks = [None if name == pk else position[name] for name in returning]
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
    return [
        tuple(pk_value if pick is None else row[pick] for pick in picks)
        for pk_value, row in zip(ids, rows, strict=True)
    ]


def _insert_values(
    model: type[models.Model],
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    tail: str,
    *,
    returning: bool = False,
) -> list[tuple[Any, ...]]:
    """INSERT `rows` as multi-row VALUES followed by `tail`, in as few statements as allowed;
    with `returning` (a RETURNING clause in `tail`), return the rows it returns."""
    ops = connection.ops
    qn = ops.quote_name
    table = qn(model._meta.db_table)
    cols = ", ".join(qn(name) for name, _ in columns)
    max_params = connection.features.max_query_params or 60000
    chunk = max(1, min(5000, max_params // len(columns)))
    placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"

    def adapt(value: Any) -> Any:
        # Raw SQL bypasses the fields' own conversion: dates need the backend's format (on
        # SQLite, aware datetimes become naive UTC text, as the ORM stores them).
        if isinstance(value, datetime):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, date):
            return ops.adapt_datefield_value(value)
        return value

    found: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            cursor.execute(
                f"INSERT INTO {table} ({cols}) VALUES "
                + ", ".join([placeholder] * len(part))
                + f" {tail}",
                [adapt(value) for row in part for value in row],
            )
            if returning:
                found.extend(cursor.fetchall())
    return found


# --- natural-key upserts --------------------------------------------------------------------


@dataclass(frozen=True)
class UpsertResult:
    """What an upsert did: how many rows it created and updated, and the rows themselves."""

    created: int
    updated: int
    objects: list[Any]


def upsert_rows(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    existing_keys: set[tuple[Any, ...]],
    batch_size: int = 1000,
) -> UpsertResult:
    """Insert or update `rows` in one statement per batch (INSERT ... ON CONFLICT DO UPDATE).

    Call it inside the service's transaction, wrapped in `core.retry.retry_on_deadlock`.
    `existing_keys` are the natural keys the caller found (and merged its rows with) in that
    transaction. Rows are written in natural-key order, whatever order the caller gave, so
    that concurrent upserts of overlapping rows lock them in the same order and do not
    deadlock. The database decides what was created: on PostgreSQL the statement says which
    rows it inserted; SQLite holds its write lock from the transaction's start (transaction
    mode IMMEDIATE), so `existing_keys` is exact there.

    Raises DomainValidationError `{"items": {index: {field: [...]}}}` when a row takes a
    unique value (a user's email) that another row holds, found only by the database because
    a concurrent transaction committed it after the caller's checks; ConcurrentWriteError when
    a row the caller prepared as new was created meanwhile, so that the whole call runs again
    and merges with the stored row; `objects` are in the caller's order.
    """
    keys = [tuple(_key(row, field) for field in unique_fields) for row in rows]
    order = sorted(range(len(rows)), key=keys.__getitem__)
    objects = [model(**rows[index]) for index in order]
    try:
        # A savepoint, so that after a failed statement the clash can still be looked up.
        with transaction.atomic():
            if connection.vendor == "postgresql":
                inserted = _upsert_postgresql(
                    model, objects, unique_fields, update_fields, batch_size
                )
            else:
                model.objects.bulk_create(
                    objects,
                    batch_size=batch_size,
                    update_conflicts=True,
                    unique_fields=list(unique_fields),
                    update_fields=list(update_fields),
                )
                inserted = [keys[index] not in existing_keys for index in order]
    except IntegrityError as exc:
        clashes = _unique_clashes(model, rows, keys, unique_fields)
        if clashes:
            raise DomainValidationError({"items": clashes}) from exc
        if getattr(exc.__cause__, "sqlstate", None) in _RACE_SQLSTATES:
            raise ConcurrentWriteError(str(exc)) from exc
        raise
    if any(
        not new and keys[index] not in existing_keys
        for index, new in zip(order, inserted, strict=True)
    ):
        raise ConcurrentWriteError(f"{model.__name__} rows were created by a concurrent write.")
    by_index = dict(zip(order, objects, strict=True))
    created = sum(inserted)
    return UpsertResult(
        created=created,
        updated=len(rows) - created,
        objects=[by_index[index] for index in range(len(rows))],
    )


def _upsert_postgresql(
    model: type[models.Model],
    objects: list[models.Model],
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    batch_size: int,
) -> list[bool]:
    """Upsert `objects` (setting their pks); return, per object, whether its row was inserted.

    The statement is the one bulk_create(update_conflicts=True) writes, with `xmax = 0`
    added to its RETURNING: a row the statement updated carries its transaction id in xmax,
    a row it inserted does not (the usual PostgreSQL idiom for "inserted or updated").
    """
    opts = model._meta
    # The columns bulk_create writes for objects without a pk.
    fields = [
        f for f in opts.concrete_fields if not f.generated and not isinstance(f, models.AutoField)
    ]
    inserted: list[bool] = []
    table = connection.ops.quote_name(opts.db_table)
    for start in range(0, len(objects), batch_size):
        batch = objects[start : start + batch_size]
        query = InsertQuery(
            model,
            on_conflict=OnConflict.UPDATE,
            update_fields=[opts.get_field(name) for name in update_fields],
            unique_fields=[opts.get_field(name) for name in unique_fields],
        )
        query.insert_values(fields, batch)
        compiler = query.get_compiler(connection=connection)
        compiler.returning_fields = [opts.pk]
        ((statement, params),) = compiler.as_sql()
        with connection.cursor() as cursor:
            cursor.execute(f"{statement}, ({table}.xmax = 0)", params)
            returned = cursor.fetchall()
        for obj, (pk, new) in zip(batch, returned, strict=True):
            obj.pk = pk
            obj._state.adding = False
            obj._state.db = connection.alias
            inserted.append(new)
    return inserted


def _unique_clashes(
    model: type[models.Model],
    rows: Sequence[dict[str, Any]],
    keys: list[tuple[Any, ...]],
    unique_fields: Sequence[str],
) -> dict[str, dict[str, list[str]]]:
    """Errors by item index for rows whose unique value (other than the key) another row has.

    Covers single-column unique fields (a user's email); the natural key itself cannot clash,
    ON CONFLICT turns it into an update.
    """
    opts = model._meta
    key_columns = [opts.get_field(name).attname for name in unique_fields]
    clashes: dict[str, dict[str, list[str]]] = {}
    for field in opts.concrete_fields:
        if not field.unique or field.primary_key or field.name in unique_fields:
            continue
        wanted: dict[Any, int] = {}
        for index, row in enumerate(rows):
            value = row.get(field.attname, row.get(field.name))
            if value is not None:
                wanted.setdefault(value, index)
        holders = model._default_manager.filter(**{f"{field.attname}__in": list(wanted)})
        for value, *key in holders.values_list(field.attname, *key_columns):
            index = wanted[value]
            if tuple(key) != keys[index]:
                clashes.setdefault(str(index), {})[field.name] = [
                    f"Another {opts.verbose_name} already has this {field.verbose_name}."
                ]
    return clashes


def _key(row: dict[str, Any], field: str) -> Any:
    value = row.get(field, row.get(f"{field}_id"))
    return getattr(value, "pk", value)


def rows_update(
    model: type[models.Model], columns: Sequence[Column], rows: Sequence[Sequence[Any]]
) -> None:
    """Set `columns` of the rows whose primary key opens each row: `rows` are (pk, value...)
    in the order of `columns` (the first column is the primary key's own (name, type)).

    PostgreSQL: COPY into a temporary table and one UPDATE ... FROM it (Django's bulk_update
    builds a CASE per column and row, which costs seconds for thousands of rows). Elsewhere:
    Django's bulk_update.
    """
    if not rows:
        return
    pk, *fields = columns
    if connection.vendor != "postgresql":
        objects = [model(**dict(zip([c for c, _ in columns], row, strict=True))) for row in rows]
        model.objects.bulk_update(objects, [name for name, _ in fields], batch_size=500)
        return
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    assignments = ", ".join(f"{qn(name)} = x.{qn(name)}" for name, _ in fields)
    with (
        staged_rows(_staging_name(model, columns), columns, rows) as incoming,
        connection.cursor() as cursor,
    ):
        cursor.execute(
            f"UPDATE {table} AS t SET {assignments} FROM {incoming} AS x "
            f"WHERE t.{qn(pk[0])} = x.{qn(pk[0])}"
        )
