"""The project's one domain error type.

Services raise `DomainValidationError` with the offending fields; the API's exception handler
turns it into a 400 in the common error shape, and forms/commands show its messages.
`invalid_choice_message` words every "not one of these values" error the same way.
"""

from collections.abc import Iterable, Mapping
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


# The one wording of a value outside a fixed set, for serializers, filters and ingestion alike.
INVALID_CHOICE = '"{value}" is not a valid choice. Choose one of: {choices}.'
SHOWN_VALUE_LENGTH = 40


def invalid_choice_message(value: Any, choices: Iterable[Any], *, alternative: str = "") -> str:
    """'"x" is not a valid choice. Choose one of: a, b, c.' (`alternative` ends the list)."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > SHOWN_VALUE_LENGTH:
        text = text[: SHOWN_VALUE_LENGTH - 1] + "…"
    # A lone surrogate (from a JSON escape) cannot be encoded in the answer: show it escaped.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    names = [str(choice) for choice in choices]
    if alternative:
        names.append(f"or {alternative}")
    return INVALID_CHOICE.format(value=text, choices=", ".join(names))
