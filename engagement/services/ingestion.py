# PLACEHOLDER (being written by the ingestion helper): replace entirely.
from dataclasses import dataclass, field


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    duplicates: list[int] = field(default_factory=list)
    rejected: dict[int, dict[str, list[str]]] = field(default_factory=dict)


def events_ingest(*, source, items):
    raise NotImplementedError
