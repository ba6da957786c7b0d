"""Index types that adapt to the database in use."""

from typing import Any

from django.contrib.postgres.indexes import BrinIndex
from django.db import models


class TimeOrderedIndex(BrinIndex):
    """A BRIN index on PostgreSQL (cheap to maintain on append-mostly, time-ordered rows);
    a plain B-tree elsewhere, so that the embedded SQLite database migrates too."""

    def create_sql(self, model: Any, schema_editor: Any, using: str = "", **kwargs: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return models.Index.create_sql(self, model, schema_editor, using="", **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)
