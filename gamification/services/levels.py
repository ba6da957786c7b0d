"""Levels: the curve that sets the thresholds, and every learner's level derived from them.

Curves (`LevelCurve`), for level n of N (level 1 always starts at 0 XP):

* flat: every level spans `base` XP, so level n starts at base x (n - 1);
* linear: each level spans `base` more than the one before, so level n starts at
  base x (n - 1) x n / 2;
* snowball (Level Up XP's curve): level 2 starts at `base`, each next one at
  base + the previous threshold x `factor`, rounded;
* manual: thresholds as staff typed them, strictly rising from 0.

Saving the scheme recomputes the thresholds and re-derives every learner's level in one
UPDATE; no level-up moments come of it (nobody earned anything).
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Case, IntegerField, Q, Value, When

from core.errors import DomainValidationError, invalid_choice_message
from gamification.models import LearnerGameProfile, Level, LevelCurve, LevelScheme
from gamification.selectors.levels import LevelInfo, level_table

MAX_THRESHOLD = 2_000_000_000  # Level.threshold_xp is a 32-bit column
MIN_FACTOR = Decimal("1")
MAX_FACTOR = Decimal("10")


def level_thresholds(
    *, curve: str, base: int, factor: Decimal | float | str, count: int
) -> list[int]:
    """The thresholds of levels 1..count under a computed curve (pure; not for manual)."""
    base = int(base)
    factor = Decimal(str(factor))
    thresholds = [0]
    for n in range(2, count + 1):
        if curve == LevelCurve.FLAT:
            value = base * (n - 1)
        elif curve == LevelCurve.LINEAR:
            value = base * (n - 1) * n // 2
        elif curve == LevelCurve.SNOWBALL:
            previous = thresholds[-1]
            value = (
                base
                if n == 2
                else base
                + int((Decimal(previous) * factor).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            )
        else:
            raise ValueError(f"no formula for curve {curve!r}")
        thresholds.append(min(value, MAX_THRESHOLD))
    return thresholds


def level_thresholds_validate(thresholds: Mapping[int, int]) -> None:
    """Check hand-set thresholds (level number -> XP): level 1 at 0, then strictly rising.

    Raises DomainValidationError naming `thresholds` with every problem found.
    """
    problems: list[str] = []
    numbers = sorted(thresholds)
    if numbers and thresholds[numbers[0]] != 0:
        problems.append(f"Level {numbers[0]} must start at 0 XP.")
    for lower, higher in itertools.pairwise(numbers):
        if thresholds[higher] <= thresholds[lower]:
            problems.append(
                f"Level {higher} must need more XP than level {lower} ({thresholds[lower]:,} XP)."
            )
    if any(not 0 <= value <= MAX_THRESHOLD for value in thresholds.values()):
        problems.append(f"Thresholds must lie between 0 and {MAX_THRESHOLD:,} XP.")
    if problems:
        raise DomainValidationError({"thresholds": problems})


def level_scheme_validate(*, curve: str, base: int, factor: Decimal | float | str) -> None:
    """Check a curve and its parameters; raise DomainValidationError naming `curve`, `base` or
    `factor` (for forms that want to say so before saving)."""
    errors: dict[str, str] = {}
    if curve not in LevelCurve.values:
        errors["curve"] = invalid_choice_message(curve, LevelCurve.values)
    whole = isinstance(base, int) and not isinstance(base, bool)
    if curve != LevelCurve.MANUAL and not (whole and 1 <= base <= 1_000_000):
        errors["base"] = "The base must be a whole number of XP from 1 to 1,000,000."
    try:
        number = Decimal(str(factor))
    except InvalidOperation:
        number = None
    if not (number is not None and MIN_FACTOR <= number <= MAX_FACTOR):
        errors["factor"] = f"The factor must lie between {MIN_FACTOR} and {MAX_FACTOR}."
    if errors:
        raise DomainValidationError(errors)


@transaction.atomic
def level_scheme_update(
    *,
    curve: str,
    base: int,
    factor: Decimal | float | str,
    names: Mapping[int, str] | None = None,
    thresholds: Mapping[int, int] | None = None,
) -> LevelScheme:
    """Set the level curve, recompute every level's threshold and re-derive learners' levels.

    `names` renames levels (number -> name); `thresholds` (number -> XP) is used for the manual
    curve only, over the levels' current thresholds. Raises DomainValidationError naming the
    field at fault; nothing changes then.
    """
    level_scheme_validate(curve=curve, base=base, factor=factor)
    factor = Decimal(str(factor))
    scheme = LevelScheme.objects.select_for_update().order_by("pk").first() or LevelScheme()
    levels = list(Level.objects.select_for_update().order_by("number"))
    if names:
        for level in levels:
            name = names.get(level.number)
            if name is not None:
                if not name.strip():
                    raise DomainValidationError({"names": f"Level {level.number} needs a name."})
                level.name = name.strip()[:64]
    if curve == LevelCurve.MANUAL:
        wanted = {level.number: level.threshold_xp for level in levels}
        wanted.update(thresholds or {})
        level_thresholds_validate(wanted)
        new = [wanted[level.number] for level in levels]
    else:
        new = level_thresholds(curve=curve, base=base, factor=factor, count=len(levels))
    for level, threshold in zip(levels, new, strict=True):
        level.threshold_xp = threshold
    Level.objects.bulk_update(levels, ["name", "threshold_xp"])
    scheme.curve, scheme.base, scheme.factor = curve, base, factor
    scheme.save()
    learner_levels_rederive()
    return scheme


def learner_level_expression(table: tuple[LevelInfo, ...]) -> Case:
    """SQL for the level a profile's total_xp reaches under `table` (highest level first)."""
    return Case(
        *[
            When(total_xp__gte=info.threshold_xp, then=Value(info.number))
            for info in reversed(table[1:])
        ],
        default=Value(table[0].number),
        output_field=IntegerField(),
    )


def learner_levels_rederive(*, user_ids: Collection[int] | None = None) -> int:
    """Set every learner's level (or those of `user_ids`) from their total; return how many
    changed. One UPDATE, touching only the rows whose level is wrong.

    Call it after the levels' thresholds change, in the same transaction: awards read the
    table after locking their learner's profile, so none can write a level of the old table
    once this UPDATE has passed its row.
    """
    level = learner_level_expression(level_table())
    profiles = LearnerGameProfile.objects.filter(~Q(level=level))
    if user_ids is not None:
        profiles = profiles.filter(user_id__in=list(user_ids))
    return profiles.update(level=level)
