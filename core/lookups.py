"""Long lists of ids as one PostgreSQL parameter: `array_literal` for raw SQL, `any_of` for
filter().

Django writes ``IN (%s, %s, ...)`` with a parameter per value, and psycopg dumps a Python list
element by element at a few microseconds each: for the thousands of learners of an import
batch, binding the list costs more than the query. An array literal is one text parameter,
which PostgreSQL casts to an array (``= ANY(%s::bigint[])``). Other databases get the usual
IN.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import F, Lookup
from django.db.models.lookups import In


def array_literal(values: Iterable[int | str | None]) -> str:
    """A PostgreSQL array literal of `values`, to bind as one text parameter cast to an array
    type (``= ANY(%s::bigint[])``, ``unnest(%s::text[])``)."""
    parts = []
    for value in values:
        if value is None:
            parts.append("NULL")
        elif isinstance(value, int):
            parts.append(str(value))
        else:
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"


class AnyOf(Lookup):
    """Use in filter(): ``.filter(AnyOf(F("user_id"), ids))`` (or `any_of("user_id", ids)`);
    the values are ids or text."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        if connection.vendor != "postgresql":
            return In(self.lhs, list(self.rhs)).as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        kind = self.lhs.output_field.db_type(connection)
        if kind is None:
            return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]
        return f"{lhs} = ANY(%s::{kind}[])", [*lhs_params, array_literal(self.rhs)]


def any_of(field: str, values: Iterable[Any]) -> AnyOf:
    """`field` is one of `values` (a filter() argument)."""
    return AnyOf(F(field), list(values))
