"""Export of sessions with feedback in the KokoroChat format, streamed from the database.

Dialogues are read in keyset-paginated chunks (``CHUNK`` feedback rows, then their messages)
so memory stays flat; every writer consumes the same ``iter_dialogues`` generator.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterable, Iterator
from itertools import groupby
from pathlib import Path

from django.db import connection, transaction
from django.db.models import CharField, F, Func, OuterRef, Subquery

from feedback.items import ITEM_FIELDS, SCREENING_FIELDS
from feedback.models import ExportAudit
from roleplay.models import Message, MessageTranslation

from .errors import ERR_NO_TRANSLATION
from .export_checks import export_problem
from .export_target import check_target, staged_file, staged_folder
from .multilingual import dump_multilingual, file_name, multilingual_object
from .schema import TZ_NAME, dialogue_object, dump_file, dump_line
from .selectors import FORMATS, ExportOptions, export_feedback_queryset, export_id, translated_filter

logger = logging.getLogger(__name__)

CHUNK = 500
ZIP_FOLDER = "kokorochat_dialogues"
CHAT_ROLES = {"counselor": "assistant", "client": "user"}
CHAT_JOIN = "\n"  # consecutive messages of one speaker become one turn, joined by a newline
MULTILINGUAL = "multilingual"  # the translation export: {language}{id}.json files (a folder, or a ZIP on the web)
CONTENT_TYPES = {
    "zip": "application/zip",
    "jsonl": "application/jsonl",
    "chat-jsonl": "application/jsonl",
    MULTILINGUAL: "application/zip",
}
EXTENSIONS = {"zip": "zip", "jsonl": "jsonl", "chat-jsonl": "jsonl", MULTILINGUAL: "zip"}

_FIELDS = (
    "evaluation_id",
    "created_at",
    "client_id",
    "client__profile__research_id",
    "counselor_id",
    "counselor__profile__research_id",
    "total",
    *ITEM_FIELDS,
    *SCREENING_FIELDS,
    "session_id",
    "session__topic",
    "session__topic_sub",
)
_N_ITEMS = len(ITEM_FIELDS)


class _TokyoTime(Func):
    """PostgreSQL formats the time itself: parsing 600k timestamps in Python is the slow part."""

    template = f"to_char(%(expressions)s AT TIME ZONE '{TZ_NAME}', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
    output_field = CharField()


def _message_time():
    return _TokyoTime("created_at") if connection.vendor == "postgresql" else F("created_at")


def iter_dialogues(
    qs, skipped: list[tuple[int, str]] | None = None, *, language: str | None = None
) -> Iterator[tuple[int, dict]]:
    """(evaluation id, dataset object) for each feedback row of ``qs``, by evaluation id.

    With ``skipped`` (a list; every export passes one), a dialogue the importer would refuse is
    left out and (id, reason) appended; without it (readers such as fine-tuning) every row is
    yielded as it is. With ``language``, the object is the multilingual one of that language
    (a dialogue with a message left untranslated is left out, with the reason, in ``skipped``)."""
    last = -1
    while True:
        rows = list(qs.filter(evaluation_id__gt=last).order_by("evaluation_id").values_list(*_FIELDS)[:CHUNK])
        if not rows:
            return
        last = rows[-1][0]
        session_ids = [r[-3] for r in rows]
        messages = Message.objects.filter(session_id__in=session_ids).order_by("session_id", "seq")
        columns = ["session_id", "role", _message_time(), "text"]
        if language:  # one index lookup per message (message, language): robust to stale statistics
            tr = MessageTranslation.objects.filter(message_id=OuterRef("pk"), language=language).values("text")[:1]
            messages = messages.annotate(tr=Subquery(tr))
            columns.append("tr")
        by_session = {sid: list(group) for sid, group in groupby(messages.values_list(*columns), key=lambda m: m[0])}
        for r in rows:
            items = r[7 : 7 + _N_ITEMS]
            screenings = r[7 + _N_ITEMS : 7 + _N_ITEMS + len(SCREENING_FIELDS)]
            obj = dialogue_object(
                evaluation_id=r[0],
                created_at=r[1],
                client_id=export_id(r[3], r[2]),
                counselor_id=export_id(r[5], r[4]),
                score=r[6],
                items=items,
                screenings=screenings,
                topic=r[-2],
                topic_sub=r[-1],
                messages=[m[1:4] for m in by_session.get(r[-3], [])],
            )
            problem = None if skipped is None else export_problem(obj)
            if language and problem is None:
                obj, problem = _translated(obj, [m[4] for m in by_session.get(r[-3], [])], language)
            if problem is None:
                yield r[0], obj
            else:
                skipped.append((r[0], problem))


def _translated(obj: dict, texts: list[str | None], language: str) -> tuple[dict, str | None]:
    missing = next((n for n, t in enumerate(texts, start=1) if t is None), None)
    if missing is not None:
        return obj, str(ERR_NO_TRANSLATION) % {"n": missing, "language": language}
    return multilingual_object(obj, texts), None


def chat_object(obj: dict) -> dict:
    """Fine-tuning chat format: counselor = assistant, client = user, speaker runs merged."""
    turns = []
    for role, group in groupby(obj["dialogue"], key=lambda m: m["role"]):
        turns.append({"role": CHAT_ROLES[role], "content": CHAT_JOIN.join(m["utterance"] for m in group)})
    return {"messages": turns}


class _Sink:
    """A write-only, unseekable file: zipfile then writes data descriptors, fit for streaming."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _stream_zip_entries(entries: Iterable[tuple[str, bytes]]) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
            yield sink.take()
    yield sink.take()


def stream_zip(dialogues: Iterable[tuple[int, dict]]) -> Iterator[bytes]:
    return _stream_zip_entries((f"{ZIP_FOLDER}/{eid}.json", dump_file(obj)) for eid, obj in dialogues)


def stream_multilingual_zip(dialogues: Iterable[tuple[int, dict]], language: str) -> Iterator[bytes]:
    """A ZIP of ``{language}/{language}{id}.json``, each byte-identical to the command's folder export."""
    return _stream_zip_entries(
        (f"{language}/{file_name(language, eid)}", dump_multilingual(obj)) for eid, obj in dialogues
    )


def stream_jsonl(dialogues: Iterable[tuple[int, dict]]) -> Iterator[bytes]:
    for _eid, obj in dialogues:
        yield dump_line(obj)


def stream_chat_jsonl(dialogues: Iterable[tuple[int, dict]]) -> Iterator[bytes]:
    for _eid, obj in dialogues:
        yield json.dumps(chat_object(obj), ensure_ascii=False).encode("utf-8") + b"\n"


STREAMERS = {"zip": stream_zip, "jsonl": stream_jsonl, "chat-jsonl": stream_chat_jsonl}


@transaction.atomic
def export_audit_create(
    *, user, channel: str, options: ExportOptions, fmt: str, dialogue_count: int, extra: dict | None = None
) -> ExportAudit:
    return ExportAudit.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        channel=channel,
        params={**options.as_params(), **(extra or {})},
        fmt=fmt,
        dialogue_count=dialogue_count,
    )


def export_start(
    *, user, channel: str, options: ExportOptions, fmt: str, skipped: list[tuple[int, str]] | None = None
) -> tuple[Iterator[tuple[int, dict]], int]:
    """Select, count and audit an export; returns the dialogue stream and its size."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    qs = export_feedback_queryset(options)
    count = qs.count()
    export_audit_create(user=user, channel=channel, options=options, fmt=fmt, dialogue_count=count)
    return iter_dialogues(qs, [] if skipped is None else skipped), count


def export_stream(
    *, user, channel: str, options: ExportOptions, fmt: str, skipped: list[tuple[int, str]] | None = None
) -> tuple[Iterator[bytes], int]:
    """Bytes of a zip / jsonl / chat-jsonl export (the web download and the command share it)."""
    dialogues, count = export_start(user=user, channel=channel, options=options, fmt=fmt, skipped=skipped)
    return STREAMERS[fmt](dialogues), count


def _counted(dialogues: Iterable[tuple[int, dict]], counter: list[int]) -> Iterator[tuple[int, dict]]:
    for item in dialogues:
        counter[0] += 1
        yield item


def export_to_path(
    *,
    out: Path,
    user,
    options: ExportOptions,
    fmt: str,
    channel: str = "command",
    overwrite: bool = False,
    skipped: list[tuple[int, str]] | None = None,
) -> int:
    """Write an export to ``out`` (a new or empty folder for "folder", else a new file; an
    existing one only with ``overwrite``); returns the number of dialogues written.

    Raises ExportTargetError (nothing written, nothing audited) when OUT cannot be used."""
    check_target(out, fmt, overwrite=overwrite)
    written = [0]
    dialogues, _count = export_start(user=user, channel=channel, options=options, fmt=fmt, skipped=skipped)
    dialogues = _counted(dialogues, written)
    if fmt == "folder":
        with staged_folder(out) as stage:
            for evaluation_id, obj in dialogues:
                (stage / f"{evaluation_id}.json").write_bytes(dump_file(obj))
        return written[0]
    with staged_file(out) as fh:
        for chunk in STREAMERS[fmt](dialogues):
            fh.write(chunk)
    return written[0]


def export_translations_to_path(
    *,
    out: Path,
    user,
    options: ExportOptions,
    language: str,
    channel: str = "command",
    overwrite: bool = False,
    skipped: list[tuple[int, str]] | None = None,
) -> int:
    """Write the ``language`` translations of the selected dialogues as ``{language}{id}.json``
    files (the Multilingual KokoroChat layout) into ``out``, a new or empty folder."""
    check_target(out, "folder", overwrite=overwrite)
    qs = export_feedback_queryset(options).filter(translated_filter(language))
    extra = {"language": language}
    export_audit_create(
        user=user, channel=channel, options=options, fmt=MULTILINGUAL, dialogue_count=qs.count(), extra=extra
    )
    count = 0
    with staged_folder(out) as stage:
        for evaluation_id, obj in iter_dialogues(qs, [] if skipped is None else skipped, language=language):
            (stage / file_name(language, evaluation_id)).write_bytes(dump_multilingual(obj))
            count += 1
    return count


def export_translations_stream(
    *, user, channel: str, options: ExportOptions, language: str, skipped: list[tuple[int, str]] | None = None
) -> tuple[Iterator[bytes], int]:
    """Bytes of a ZIP of the ``language`` translations (the web download of ``--format multilingual``);
    audited like the command's export (fmt multilingual, the language in the params)."""
    qs = export_feedback_queryset(options).filter(translated_filter(language))
    count = qs.count()
    export_audit_create(
        user=user,
        channel=channel,
        options=options,
        fmt=MULTILINGUAL,
        dialogue_count=count,
        extra={"language": language},
    )
    dialogues = iter_dialogues(qs, [] if skipped is None else skipped, language=language)
    return stream_multilingual_zip(dialogues, language), count


def export_filename(options: ExportOptions, fmt: str, language: str = "") -> str:
    tail = f"-{language}" if fmt == MULTILINGUAL and language else ""
    return f"kokorochat-{options.subset}{'-q' if options.quality_filter else ''}{tail}.{EXTENSIONS[fmt]}"
