"""The grounding check of the AI-written insights: every number in the text must be one of the
figures the statistics computed. Pure functions (no Django).

The rule, precisely. The text's numbers are its digit runs, with thousands separators
("1,234"), an optional decimal part, an optional leading minus and an optional trailing "%";
an ISO date (2026-11-30) is one token, grounded only when it is one of the allowed dates.
A number x written with k decimals is grounded when, for some input figure v, x is v rounded
to k decimals (|x - v| <= 0.5 * 10^-k), or 100 * v rounded so (a share written as a percent);
a number without a minus may also be the magnitude |v| or |100 * v| ("fell by 12%" for a
change of -12). Nothing else passes: not a count the text made up, not "3 courses" when no
figure is 3, not a rounding to fewer digits than it shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation

DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
NUMBER = re.compile(r"(?<![\w.])([-\u2212]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(%?)")
_EPS = 1e-9


def numbers_in(text: str) -> tuple[list[str], list[str]]:
    """The ISO dates and the other numbers written in `text`, as written."""
    dates = DATE.findall(text)
    rest = DATE.sub(" ", text)
    return dates, [m.group(0) for m in NUMBER.finditer(rest)]


def number_grounded(token: str, figures: Iterable[float]) -> bool:
    """Whether the number `token` (as `numbers_in` returns it) is one of `figures` under the
    module's rule."""
    raw = token.rstrip("%").replace(",", "").replace("\u2212", "-")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        return False
    exponent = value.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    tolerance = 0.5 * 10**-decimals + _EPS
    x = float(value)
    for v in figures:
        for candidate in (v, 100 * v):
            if abs(x - candidate) <= tolerance:
                return True
            if x >= 0 and abs(x - abs(candidate)) <= tolerance:
                return True
    return False


def ungrounded(
    texts: Sequence[str], figures: Iterable[float], dates: Iterable[str] = ()
) -> list[str]:
    """The numbers and dates in `texts` that are not among `figures` / `dates` (each once, in
    order of appearance); empty when the text is grounded."""
    allowed = [float(f) for f in figures]
    allowed_dates = set(dates)
    out: list[str] = []
    for text in texts:
        found_dates, found = numbers_in(text)
        for day in found_dates:
            if day not in allowed_dates and day not in out:
                out.append(day)
        for token in found:
            if not number_grounded(token, allowed) and token not in out:
                out.append(token)
    return out
