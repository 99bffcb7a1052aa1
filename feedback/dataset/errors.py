"""Errors of the dataset area and the helpers that word them.

Every message names the field, shows the value and states the rule. Messages are lazy
translations rendered when the error is raised, so a run under ``translation.override(lang)``
speaks one language from start to end. Values are shown as JSON (a string in quotes, so
``"72"`` is visibly not ``72``), with characters a terminal cannot print escaped.
"""

from __future__ import annotations

import json
from typing import Any

from django.utils.translation import gettext_lazy as _

from kokoro_site.errors import ServiceError

SHOW_MAX = 60


class DatasetFormatError(ServiceError):
    """A dialogue file the importer refuses (nothing of it is stored)."""

    default_code = "dataset_format"


class DatasetSourceError(ServiceError):
    """The import path itself is unusable (nothing is imported)."""

    default_code = "dataset_source"


class ExportTargetError(ServiceError):
    """The export destination cannot be used (nothing is written)."""

    default_code = "export_target"


class NonFinite:
    """A NaN / Infinity / -Infinity (or an overflowing float) met in a file, kept as its token.

    JSON has no such numbers; Python's parser accepts them. Keeping a marker instead of a float
    lets the check of the field it sits in name it ("... is the non-finite number NaN").
    """

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NonFinite) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)

    def __repr__(self) -> str:
        return self.token


def printable(text: str) -> str:
    """``text`` with lone surrogates and undecodable bytes escaped (``\\ud800``), safe to print."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def show(value: Any) -> str:
    """A value as the file wrote it (JSON), shortened, printable."""
    if isinstance(value, NonFinite):
        text = value.token
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = printable(text)
    return text if len(text) <= SHOW_MAX else text[: SHOW_MAX - 3] + "..."


def fail(message: Any, **params: Any) -> DatasetFormatError:
    """A DatasetFormatError with ``message % params``; values (not names) are shown as JSON."""
    rendered = {k: (v if k in _VERBATIM else show(v)) for k, v in params.items()}
    return DatasetFormatError(message=str(message) % rendered)


# Parameters that are names or rules written by the code, printed as they are.
_VERBATIM = {
    "field",
    "where",
    "key",
    "rule",
    "min",
    "max",
    "expected_type",
    "n",
    "other",
    "pos",
    "char",
    "detail",
    "id",
    "language",
}

THE_FILE_LABEL = _("the file")  # the field name of the top-level object

# --- the file as a whole ---------------------------------------------------------------------
ERR_NOT_UTF8 = _("the file is not UTF-8 text (byte %(pos)s cannot be decoded)")
ERR_BAD_JSON = _("the file is not valid JSON (line %(line)s, column %(col)s)")
ERR_TOO_DEEP = _("the file is not valid JSON (nested too deeply)")
ERR_NUMBER_TOO_LONG = _("the file holds a number with more than %(max)s digits")
ERR_DUPLICATE_KEY = _("key %(key)s appears twice in one JSON object (each key may appear once)")
ERR_UNREADABLE = _("cannot read the file (%(detail)s)")

# --- structure -------------------------------------------------------------------------------
ERR_NOT_OBJECT = _("%(field)s must be a JSON object, got %(value)s")
ERR_NOT_LIST = _("%(field)s must be a JSON list, got %(value)s")
ERR_MISSING_KEY = _("%(field)s: missing key %(key)s")
ERR_UNKNOWN_KEY = _("%(field)s: unknown key %(key)s (allowed keys: %(rule)s)")
ERR_EMPTY_DIALOGUE = _("%(field)s has no messages (at least one is required)")

# --- values ----------------------------------------------------------------------------------
ERR_NOT_TEXT = _("%(field)s must be a string, got %(value)s")
ERR_TEXT_NUL = _("%(field)s contains the NUL character (U+0000) at position %(pos)s, which databases cannot store")
ERR_TEXT_SURROGATE = _(
    "%(field)s contains a lone surrogate %(char)s at position %(pos)s, which is not valid Unicode text"
)
ERR_TEXT_TOO_LONG = _("%(field)s is %(value)s characters long (at most %(max)s)")
ERR_NOT_INTEGER = _("%(field)s must be an integer from %(min)s to %(max)s, got %(value)s")
ERR_STRING_FOR_NUMBER = _("%(field)s must be a number (an integer from %(min)s to %(max)s), not the string %(value)s")
ERR_NON_FINITE = _("%(field)s is the non-finite number %(value)s (an integer from %(min)s to %(max)s is required)")
ERR_OUT_OF_RANGE = _("%(field)s is %(value)s, outside the allowed range %(min)s to %(max)s")
ERR_UNKNOWN_ROLE = _("%(field)s is %(value)s (allowed: %(rule)s)")
ERR_BAD_TIME = _("%(field)s is %(value)s, not a time of the form YYYY-MM-DDTHH:MM:SS")
ERR_TIME_RANGE = _("%(field)s is %(value)s, outside the allowed years %(min)s to %(max)s")
ERR_TIME_ORDER = _("%(field)s is %(value)s, earlier than the message before it (messages must be in time order)")
ERR_UNKNOWN_TOPIC = _("topic %(value)s is not one of the 11 KokoroChat topic pairs (main_jp / main_en)")
ERR_SCORE_RULE = _("%(field)s is %(value)s but the items and screenings give %(expected)s (the score rule)")
ERR_BAD_SCREENING = _("%(field)s must be null or %(rule)s, got %(value)s")
ERR_REVIEWS_DISAGREE = _(
    "%(field)s is %(value)s but %(other)s is %(expected)s (both reviews must hold the same values)"
)

# --- the import as a whole -------------------------------------------------------------------
ERR_NOT_FOUND = _("%(path)s is neither a folder nor a .zip file")
ERR_BAD_ZIP = _("%(path)s is not a readable zip file")
ERR_SOURCE_UNREADABLE = _("cannot read %(path)s (%(detail)s)")
ERR_CHUNK_SIZE = _("the chunk size must be an integer from 1 to %(max)s, got %(value)s")
ERR_DUPLICATE = _("evaluation id %(value)s is also in %(other)s in this import (each evaluation id may appear once)")
ERR_CONFLICT = _(
    "evaluation id %(value)s is already imported with different content (rerun with --update to replace it)"
)
ERR_NOT_REPLACEABLE = _(
    "evaluation id %(value)s belongs to a session recorded on this platform, which an import never replaces"
)
ERR_DB_REFUSED = _("the database refused the file: %(detail)s")

# --- translations (the multilingual format) -----------------------------------------------
ERR_BAD_LANGUAGE_NAME = _(
    "the file name %(value)s does not start with a language code: a multilingual file is named"
    " like en12.json (the language, then the evaluation id)"
)
ERR_ORIGINAL_LANGUAGE = _(
    "the file name %(value)s names Japanese, the language of the original: a translation is in another language"
)
ERR_MESSAGE_COUNT = _(
    "%(field)s has %(value)s messages but evaluation id %(id)s in the database has %(expected)s"
    " (a translation matches its original message by message)"
)
ERR_ORIGINAL_DIFFERS = _(
    "%(field)s is %(value)s but evaluation id %(id)s in the database has %(expected)s"
    " (a translation must match the stored original)"
)
ERR_NO_TRANSLATION = _("message %(n)s has no %(language)s translation")
ERR_TRANSLATION_CONFLICT = _(
    "evaluation id %(value)s already has a different %(language)s translation (rerun with --update to replace it)"
)

# --- reasons the operating system gives ------------------------------------------------------
OS_PERMISSION = _("permission denied")
OS_NOT_FOUND = _("no such file or folder")
OS_IS_FOLDER = _("it is a folder")
OS_NOT_FOLDER = _("a part of the path is a file, not a folder")
OS_NO_SPACE = _("no space left on the device")
OS_OTHER = _("system error %(errno)s")


def os_reason(exc: BaseException) -> str:
    """A short reason for an OSError in the active language (the system's own text is English)."""
    import errno

    code = getattr(exc, "errno", None)
    reasons = {
        errno.EACCES: OS_PERMISSION,
        errno.EPERM: OS_PERMISSION,
        errno.ENOENT: OS_NOT_FOUND,
        errno.EISDIR: OS_IS_FOLDER,
        errno.ENOTDIR: OS_NOT_FOLDER,
        errno.ENOSPC: OS_NO_SPACE,
    }
    if code in reasons:
        return str(reasons[code])
    if code is not None:
        return str(OS_OTHER) % {"errno": errno.errorcode.get(code, code)}
    return type(exc).__name__


def first_line(exc: BaseException, limit: int = 200) -> str:
    text = str(exc).strip().splitlines()
    line = printable(text[0]) if text else type(exc).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


# --- export ----------------------------------------------------------------------------------
ERR_OUT_IS_FILE = _("%(path)s is a file: a folder export needs a new or empty folder")
ERR_OUT_IS_FOLDER = _("%(path)s is a folder: a %(fmt)s export is written to a file")
ERR_OUT_NOT_EMPTY = _(
    "%(path)s is not empty (%(n)s entries): choose a new or empty folder, or pass --overwrite to replace it"
)
ERR_OUT_FOREIGN = _("%(path)s holds %(name)s, which is not a .json file: it is not replaced, even with --overwrite")
ERR_OUT_EXISTS = _("%(path)s already exists: pass --overwrite to replace it")
ERR_OUT_UNWRITABLE = _("cannot write to %(path)s (%(detail)s)")
