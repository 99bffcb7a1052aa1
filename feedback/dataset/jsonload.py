"""Strict JSON reading of one dataset file (shared by every file format).

Stricter than ``json.loads``: UTF-8 only (no BOM, no UTF-16 guessing), a key repeated in one
object is an error (``json`` silently keeps the last), and ``NaN``/``Infinity`` or a float
that overflows become :class:`~feedback.dataset.errors.NonFinite` markers, so the check of the
field they sit in names them. Every failure is a :class:`DatasetFormatError`, never another
exception (over-long integers and deep nesting included).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from .errors import (
    ERR_BAD_JSON,
    ERR_DUPLICATE_KEY,
    ERR_NOT_UTF8,
    ERR_NUMBER_TOO_LONG,
    ERR_TOO_DEEP,
    NonFinite,
    fail,
    show,
)

MAX_INT_DIGITS = 4300  # Python's int() limit for decimal strings (sys.get_int_max_str_digits)


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise fail(ERR_DUPLICATE_KEY, key=show(key))
            seen.add(key)
    return obj


def _float(text: str) -> float | NonFinite:
    value = float(text)
    return value if math.isfinite(value) else NonFinite(text)


_decoder = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=NonFinite, parse_float=_float)


def decode_utf8(raw: bytes | str) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(ERR_NOT_UTF8, pos=exc.start) from None


def load_json(raw: bytes | str) -> Any:
    """The JSON value of ``raw``; raises DatasetFormatError for anything that is not strict JSON."""
    text = decode_utf8(raw)
    try:
        return _decoder.decode(text)
    except json.JSONDecodeError as exc:
        raise fail(ERR_BAD_JSON, line=exc.lineno, col=exc.colno) from None
    except RecursionError:
        raise fail(ERR_TOO_DEEP) from None
    except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise fail(ERR_NUMBER_TOO_LONG, max=getattr(sys, "get_int_max_str_digits", lambda: MAX_INT_DIGITS)()) from None
