"""Import of dialogue files (a folder or a .zip of one) as finished imported sessions.

For every file, in this order: read, parse and validate completely (``formats.parse_file``:
strict JSON, the format's rules, the database's limits); an evaluation id met twice in one
run is refused. A valid file whose evaluation id is already stored is compared with the
export of the stored dialogue: the same content is "unchanged"; other content is a conflict,
refused unless ``update`` (then the imported session is replaced in one transaction).
New files are written chunk by chunk, each chunk in one transaction; when the database
refuses a chunk, its files are written again one by one, so one bad file never costs another.
An interrupted run leaves whole files only; running it again completes it (known files are
then "unchanged").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from feedback.models import Feedback
from roleplay.models import SessionSource

from .errors import (
    ERR_CHUNK_SIZE,
    ERR_CONFLICT,
    ERR_DB_REFUSED,
    ERR_DUPLICATE,
    ERR_NOT_REPLACEABLE,
    ERR_UNREADABLE,
    DatasetFormatError,
    DatasetSourceError,
    first_line,
    os_reason,
)
from .formats import parse_file
from .schema import ParsedDialogue, dump_file, parsed_object
from .source import display_name, read_files, source_names
from .translation_check import compare_originals
from .writer import (
    USERNAME_PREFIX,
    batched,
    dataset_username,
    dialogues_write,
    imported_session_delete,
    table_statistics_refresh,
    translations_attach,
)

__all__ = ["USERNAME_PREFIX", "DatasetSourceError", "ImportReport", "dataset_import", "dataset_username"]

DEFAULT_CHUNK = 500
MAX_CHUNK = 10_000


@dataclass
class ImportReport:
    files: int = 0
    imported: int = 0  # new dialogues, and replaced ones (``updated`` of them)
    unchanged: int = 0
    updated: int = 0
    messages: int = 0
    users_created: int = 0
    translations: int = 0  # translated messages written (multilingual files)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)

    @property
    def ok(self) -> bool:
        return not self.rejected

    def reject(self, name: str, reason: str) -> None:
        self.rejected.append((name, reason))


def check_chunk_size(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_CHUNK:
        raise DatasetSourceError(message=str(ERR_CHUNK_SIZE) % {"max": MAX_CHUNK, "value": value})
    return value


def dataset_import(
    *,
    path: Path,
    chunk_size: int = DEFAULT_CHUNK,
    update: bool = False,
    progress: Callable[[int, int, ImportReport], None] | None = None,
) -> ImportReport:
    """Import every .json under ``path``; a refused file is reported and never costs another."""
    check_chunk_size(chunk_size)
    path = Path(path)
    kind, names = source_names(path)
    report = ImportReport(files=len(names))
    seen: dict[tuple[int, str], str] = {}
    done = 0
    for chunk in batched(read_files(path, kind, names), chunk_size):
        _import_chunk(chunk, report, seen, update=update)
        done += len(chunk)
        if progress:
            progress(done, len(names), report)
    if report.messages or report.translations:
        table_statistics_refresh()
    return report


def _import_chunk(chunk: list, report: ImportReport, seen: dict[tuple[int, str], str], *, update: bool) -> None:
    valid: list[tuple[str, ParsedDialogue, bytes]] = []
    translations: list[tuple[str, ParsedDialogue, bytes]] = []
    for name, raw in chunk:
        shown = display_name(name)
        if isinstance(raw, Exception):
            report.reject(shown, str(ERR_UNREADABLE) % {"detail": os_reason(raw)})
            continue
        try:
            parsed = parse_file(raw, name)
        except DatasetFormatError as exc:
            report.reject(shown, str(exc.message))
            continue
        key = (parsed.evaluation_id, parsed.language)  # a Japanese file and its translations may meet
        if key in seen:
            report.reject(shown, str(ERR_DUPLICATE) % {"value": parsed.evaluation_id, "other": seen[key]})
            continue
        seen[key] = shown
        (valid if parsed.translation is None else translations).append((shown, parsed, raw))
    known = _known(p.evaluation_id for _n, p, _r in valid)
    new = [(n, p) for n, p, _r in valid if p.evaluation_id not in known]
    replace = _compare_known([v for v in valid if v[1].evaluation_id in known], known, report, update=update)
    _store(new, report)
    for name, parsed in replace:
        _store([(name, parsed)], report, replace=True)
    for language in sorted({p.language for _n, p, _r in translations}):  # one language at a time
        import_translations([(n, p) for n, p, _r in translations if p.language == language], report, update=update)


def import_translations(items: list[tuple[str, ParsedDialogue]], report: ImportReport, *, update: bool) -> None:
    """Translated files of one language: a stored original gets the translation (after its
    Japanese side is checked against the file); a missing one is created from the file."""
    known = _known(p.evaluation_id for _n, p in items)
    _store([(n, p) for n, p in items if p.evaluation_id not in known], report)
    attach = compare_originals([(n, p) for n, p in items if p.evaluation_id in known], report, update=update)
    for replace in (False, True):
        todo = [(n, p, sid) for n, p, sid, again in attach if again is replace]
        _store_translations(todo, report, replace=replace)


def _known(ids) -> dict[int, str]:
    """{evaluation id: session source} of the ids already stored."""
    wanted = list(ids)
    rows = Feedback.objects.filter(evaluation_id__in=wanted).values_list("evaluation_id", "session__source")
    return dict(rows)


def _stored_files(ids: list[int]) -> dict[int, bytes]:
    """The export (file bytes) of stored dialogues, to compare files against."""
    from .exporter import iter_dialogues  # the exporter reads through selectors; import late

    return {eid: dump_file(obj) for eid, obj in iter_dialogues(Feedback.objects.filter(evaluation_id__in=ids))}


def _compare_known(
    items: list[tuple[str, ParsedDialogue, bytes]], known: dict[int, str], report: ImportReport, *, update: bool
) -> list[tuple[str, ParsedDialogue]]:
    """Known ids: the same content as stored is "unchanged" (the file's bytes, or else its
    content in the published layout, equal the export of the stored dialogue)."""
    if not items:
        return []
    stored = _stored_files([p.evaluation_id for _n, p, _r in items])
    replace = []
    for name, parsed, raw in items:
        eid = parsed.evaluation_id
        if raw == stored.get(eid) or dump_file(parsed_object(parsed)) == stored.get(eid):
            report.unchanged += 1
        elif known[eid] != SessionSource.IMPORTED:
            report.reject(name, str(ERR_NOT_REPLACEABLE) % {"value": eid})
        elif update:
            replace.append((name, parsed))
        else:
            report.reject(name, str(ERR_CONFLICT) % {"value": eid})
    return replace


def _store(items: list[tuple[str, ParsedDialogue]], report: ImportReport, *, replace: bool = False) -> None:
    """Write ``items`` in one transaction; if the database refuses, retry them one by one."""
    if not items:
        return
    try:
        with transaction.atomic():
            if replace:
                for _n, p in items:
                    imported_session_delete(p.evaluation_id)
            messages, created = dialogues_write([p for _n, p in items])
    except Exception as exc:  # any refusal (DatabaseError, driver errors) is reported per file
        if len(items) > 1:
            for item in items:
                _store([item], report, replace=replace)
        else:
            report.reject(items[0][0], str(ERR_DB_REFUSED) % {"detail": first_line(exc)})
        return
    report.imported += len(items)
    report.updated += len(items) if replace else 0
    report.messages += messages
    report.users_created += created
    report.translations += sum(len(p.translation or ()) for _n, p in items)


def _store_translations(items: list[tuple[str, ParsedDialogue, int]], report: ImportReport, *, replace: bool) -> None:
    """Attach translations to stored dialogues in one transaction; if refused, one file at a time."""
    if not items:
        return
    try:
        with transaction.atomic():
            written = translations_attach([(sid, p.language, p.translation) for _n, p, sid in items], replace=replace)
    except Exception as exc:  # any refusal is reported per file
        if len(items) > 1:
            for item in items:
                _store_translations([item], report, replace=replace)
        else:
            report.reject(items[0][0], str(ERR_DB_REFUSED) % {"detail": first_line(exc)})
        return
    report.imported += len(items)
    report.updated += len(items) if replace else 0
    report.translations += written
