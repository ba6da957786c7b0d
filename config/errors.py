"""The project's one domain error type.

Services raise `DomainValidationError` with the offending fields; the API's exception handler
turns it into a 400 in the common error shape, and forms/commands show its messages.
"""

from collections.abc import Mapping
from typing import Any


class DomainValidationError(Exception):
    """Input that breaks a business rule; `fields` maps each field to its messages."""

    def __init__(self, fields: Mapping[str, Any] | str, *, code: str = "invalid") -> None:
        if isinstance(fields, str):
            fields = {"non_field_errors": [fields]}
        self.fields = {
            key: value if isinstance(value, list | dict) else [str(value)]
            for key, value in fields.items()
        }
        self.code = code
        super().__init__(self.summary())

    def messages_text(self) -> str:
        """All messages as one line, "field: message; ...", for commands and pages."""
        parts = []
        for field, messages in self.fields.items():
            text = " ".join(map(str, messages)) if isinstance(messages, list) else str(messages)
            parts.append(text if field == "non_field_errors" else f"{field}: {text}")
        return "; ".join(parts) or self.summary()

    def summary(self) -> str:
        """One line naming the fields at fault, for logs and the error's `detail`."""
        return "Invalid input: " + ", ".join(sorted(self.fields)) if self.fields else "Invalid."
