"""What the database would refuse, checked before anything is written (every file format).

Limits come from the model fields, with Django's portable integer ranges (the PostgreSQL ones),
so a file behaves the same on PostgreSQL and SQLite: an id that SQLite could hold but
PostgreSQL could not is refused on both. Text may not hold NUL (PostgreSQL refuses it) or lone
surrogates (not encodable as UTF-8 anywhere).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import Model

from .errors import (
    ERR_NON_FINITE,
    ERR_NOT_INTEGER,
    ERR_NOT_TEXT,
    ERR_OUT_OF_RANGE,
    ERR_STRING_FOR_NUMBER,
    ERR_TEXT_NUL,
    ERR_TEXT_SURROGATE,
    ERR_TEXT_TOO_LONG,
    ERR_TIME_RANGE,
    NonFinite,
    fail,
)

# Times a dataset may hold (aware, any zone): wide, but far from the ends where converting
# between zones or to the database's range overflows.
YEAR_MIN = 1900
YEAR_MAX = 2999
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def column_range(model: type[Model], field_name: str, *, minimum: int | None = None) -> tuple[int, int]:
    """(lowest, highest) value the column accepts on every supported database."""
    internal = model._meta.get_field(field_name).get_internal_type()
    low, high = BaseDatabaseOperations.integer_field_ranges[internal]
    return (low if minimum is None else max(low, minimum)), high


def text_limit(model: type[Model], field_name: str) -> int | None:
    return model._meta.get_field(field_name).max_length


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_int(value: Any, field: str, limits: tuple[int, int]) -> int:
    """``value`` if it is an integer within ``limits``; else the error that says why not."""
    low, high = limits
    if is_int(value):
        if low <= value <= high:
            return value
        raise fail(ERR_OUT_OF_RANGE, field=field, value=value, min=low, max=high)
    if isinstance(value, NonFinite):
        raise fail(ERR_NON_FINITE, field=field, value=value, min=low, max=high)
    if isinstance(value, str):
        raise fail(ERR_STRING_FOR_NUMBER, field=field, value=value, min=low, max=high)
    raise fail(ERR_NOT_INTEGER, field=field, value=value, min=low, max=high)


def check_text(value: Any, field: str, max_length: int | None = None) -> str:
    """``value`` if it is a string a database can store (and not over ``max_length``)."""
    if not isinstance(value, str):
        raise fail(ERR_NOT_TEXT, field=field, value=value)
    bad = _BAD_TEXT.search(value)
    if bad:
        char = bad.group()
        if char == "\x00":
            raise fail(ERR_TEXT_NUL, field=field, pos=bad.start())
        raise fail(ERR_TEXT_SURROGATE, field=field, pos=bad.start(), char=f"U+{ord(char):04X}")
    if max_length is not None and len(value) > max_length:
        raise fail(ERR_TEXT_TOO_LONG, field=field, value=len(value), max=max_length)
    return value


def has_bad_text(value: str) -> bool:
    return _BAD_TEXT.search(value) is not None


def check_time(value: datetime, field: str, shown: Any = None) -> datetime:
    """``value`` if its year is within YEAR_MIN..YEAR_MAX (``shown``: the value as the file wrote it)."""
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise fail(ERR_TIME_RANGE, field=field, value=shown or value.isoformat(), min=YEAR_MIN, max=YEAR_MAX)
    return value
