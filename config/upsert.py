"""Bulk upsert by natural key, the one write path behind every integrator sync endpoint."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, models, transaction
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery

from config.errors import DomainValidationError
from config.retry import ConcurrentWriteError

# SQLSTATEs of a statement that may have lost a race with a concurrent commit: a unique value
# taken meanwhile, or a referenced row deleted meanwhile.
_RACE_SQLSTATES = frozenset({"23505", "23503"})


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

    Call it inside the service's transaction, wrapped in `config.retry.retry_on_deadlock`.
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
                inserted = _insert_postgresql(
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


def _insert_postgresql(
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
