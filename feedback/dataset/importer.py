"""Import of the published KokoroChat dataset (a folder or a .zip of one) as finished sessions.

Each file is validated completely (``schema.validate_dialogue``) before anything of it is
written; valid files are stored chunk by chunk, each chunk in one transaction (bulk inserts;
messages through ``COPY`` on PostgreSQL). The evaluation id is the key: a file whose
evaluation id is already in the database is skipped, so re-running imports nothing twice.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import DatabaseError, connection, transaction
from django.utils.translation import gettext_lazy as _

from feedback.items import ITEMS, SCREENINGS
from feedback.models import Feedback
from kokoro_site.errors import ServiceError
from roleplay.models import EndReason, Message, Profile, Session, SessionSource, SessionStatus

from .schema import DatasetFormatError, ParsedDialogue, load_json, peek_evaluation_id, validate_object

USERNAME_PREFIX = "kc-"
DEFAULT_CHUNK = 500
MAX_DURATION_MINUTES = 32767

ERR_NOT_FOUND = _("%(path)s is neither a folder nor a .zip file")
ERR_BAD_ZIP = _("%(path)s is not a readable zip file")
ERR_DUPLICATE = _("duplicate evaluation id %(id)s (already in %(other)s)")
ERR_CHUNK_FAILED = _("the database rejected the chunk: %(detail)s")
ERR_UNREADABLE = _("cannot read the file: %(detail)s")


class DatasetSourceError(ServiceError, ValueError):
    """The import path itself is unusable (nothing is imported): ``not_found`` or ``bad_zip``."""


@dataclass
class ImportReport:
    files: int = 0
    imported: int = 0
    skipped_existing: int = 0
    messages: int = 0
    users_created: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def dataset_username(dataset_id: int) -> str:
    return f"{USERNAME_PREFIX}{dataset_id}"


def _sort_key(name: str) -> tuple[int, str]:
    stem = Path(name).stem
    return (int(stem) if stem.isdigit() else 10**12, name)


def source_names(path: Path) -> tuple[str, list[str]]:
    """("folder"|"zip", the .json names in import order)."""
    if path.is_dir():
        names = [str(p.relative_to(path)) for p in path.rglob("*.json") if p.is_file()]
        return "folder", sorted(names, key=_sort_key)
    if path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [
                n
                for n in zf.namelist()
                if n.endswith(".json") and not n.endswith("/") and not n.startswith("__MACOSX/")
            ]
        return "zip", sorted(names, key=_sort_key)
    if path.is_file() and path.suffix == ".zip":
        raise DatasetSourceError("bad_zip", str(ERR_BAD_ZIP) % {"path": path})
    raise DatasetSourceError("not_found", str(ERR_NOT_FOUND) % {"path": path})


def _read_all(path: Path, kind: str, names: list[str]) -> Iterator[tuple[str, bytes | Exception]]:
    if kind == "folder":
        for name in names:
            try:
                yield name, (path / name).read_bytes()
            except OSError as exc:
                yield name, exc
        return
    with zipfile.ZipFile(path) as zf:
        for name in names:
            try:
                yield name, zf.read(name)
            except (OSError, zipfile.BadZipFile, ValueError) as exc:
                yield name, exc


def _batched(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def dataset_import(
    *,
    path: Path,
    chunk_size: int = DEFAULT_CHUNK,
    progress: Callable[[int, int, ImportReport], None] | None = None,
) -> ImportReport:
    """Import every .json under ``path``; bad files are reported and skipped, the rest go on."""
    kind, names = source_names(Path(path))
    report = ImportReport(files=len(names))
    seen: dict[int, str] = {}
    done = 0
    for chunk in _batched(_read_all(Path(path), kind, names), chunk_size):
        loaded: list[tuple[str, object]] = []
        for name, raw in chunk:
            if isinstance(raw, Exception):
                report.errors.append((name, str(ERR_UNREADABLE) % {"detail": raw}))
                continue
            try:
                loaded.append((name, load_json(raw)))
            except DatasetFormatError as exc:
                report.errors.append((name, str(exc)))
        # Files already imported are skipped before the (costlier) full validation.
        existing = _existing_ids([peek_evaluation_id(obj) for _n, obj in loaded])
        valid: list[tuple[str, ParsedDialogue]] = []
        for name, obj in loaded:
            if peek_evaluation_id(obj) in existing:
                report.skipped_existing += 1
                continue
            try:
                parsed = validate_object(obj)
            except DatasetFormatError as exc:
                report.errors.append((name, str(exc)))
                continue
            if parsed.evaluation_id in seen:
                other = seen[parsed.evaluation_id]
                report.errors.append((name, str(ERR_DUPLICATE) % {"id": parsed.evaluation_id, "other": other}))
                continue
            seen[parsed.evaluation_id] = name
            valid.append((name, parsed))
        _store_chunk(valid, report)
        done += len(chunk)
        if progress:
            progress(done, len(names), report)
    return report


def _existing_ids(ids: list[int | None]) -> set[int]:
    wanted = [i for i in ids if i is not None]
    return set(Feedback.objects.filter(evaluation_id__in=wanted).values_list("evaluation_id", flat=True))


def _store_chunk(valid: list[tuple[str, ParsedDialogue]], report: ImportReport) -> None:
    existing = _existing_ids([p.evaluation_id for _n, p in valid])  # imported meanwhile
    todo = [p for _n, p in valid if p.evaluation_id not in existing]
    report.skipped_existing += len(valid) - len(todo)
    if not todo:
        return
    try:
        with transaction.atomic():
            users, created = _ensure_accounts({i for p in todo for i in (p.client_id, p.counselor_id)})
            n_messages = _insert_dialogues(todo, users)
    except DatabaseError as exc:
        detail = str(ERR_CHUNK_FAILED) % {"detail": str(exc).strip().splitlines()[0] if str(exc) else exc}
        report.errors.extend((n, detail) for n, p in valid if p.evaluation_id not in existing)
        return
    report.users_created += created
    report.imported += len(todo)
    report.messages += n_messages


def _ensure_accounts(dataset_ids: set[int]) -> tuple[dict[int, int], int]:
    """One pseudonymous account per dataset id (both roles): {dataset id: user id}, created count."""
    users = dict(Profile.objects.filter(dataset_id__in=dataset_ids).values_list("dataset_id", "user_id"))
    missing = sorted(dataset_ids - users.keys())
    if not missing:
        return users, 0
    User = get_user_model()
    names = {dataset_username(i): i for i in missing}
    # An account with the pseudonymous name but no dataset id (e.g. a profile-less user) is reused.
    for username, user_id in User.objects.filter(username__in=names).values_list("username", "id"):
        users[names.pop(username)] = user_id
    new_users = User.objects.bulk_create(
        [User(username=u, password=make_password(None), is_active=True) for u in names]
    )
    for user in new_users:
        users[names[user.username]] = user.pk
    has_profile = set(Profile.objects.filter(user_id__in=[users[i] for i in missing]).values_list("user_id", flat=True))
    Profile.objects.bulk_create(
        [
            Profile(user_id=users[i], display_name=f"KokoroChat {i}", dataset_id=i, research_id=i)
            for i in missing
            if users[i] not in has_profile
        ]
    )
    for i in missing:  # a reused account's profile is tagged with its dataset id (rare)
        if users[i] in has_profile:
            Profile.objects.filter(user_id=users[i], dataset_id__isnull=True).update(dataset_id=i)
    return users, len(new_users)


def _insert_dialogues(todo: list[ParsedDialogue], users: dict[int, int]) -> int:
    sessions = []
    for p in todo:
        first, last = p.messages[0].created_at, p.messages[-1].created_at
        minutes = math.ceil(max((last - first).total_seconds(), 0) / 60)
        sessions.append(
            Session(
                counselor_id=users[p.counselor_id],
                client_id=users[p.client_id],
                starts_at=first,
                started_at=first,
                ended_at=last,
                duration_minutes=min(max(minutes, 1), MAX_DURATION_MINUTES),
                status=SessionStatus.ENDED,
                source=SessionSource.IMPORTED,
                end_reason=EndReason.IMPORTED,
                topic=p.topic,
                topic_sub=p.topic_sub,
                last_seq=len(p.messages),
                created_at=first,
            )
        )
    Session.objects.bulk_create(sessions)
    Feedback.objects.bulk_create(
        [
            Feedback(
                session_id=s.pk,
                evaluation_id=p.evaluation_id,
                created_at=p.created_at,
                client_id=users[p.client_id],
                counselor_id=users[p.counselor_id],
                total=p.score,
                **{i.field: v for i, v in zip(ITEMS, p.items, strict=True)},
                **{sc.field: v for sc, v in zip(SCREENINGS, p.screenings, strict=True)},
            )
            for s, p in zip(sessions, todo, strict=True)
        ]
    )
    rows = (
        (
            s.pk,
            seq,
            m.role,
            users[p.counselor_id] if m.role == "counselor" else users[p.client_id],
            m.text,
            m.created_at,
        )
        for s, p in zip(sessions, todo, strict=True)
        for seq, m in enumerate(p.messages, start=1)
    )
    if connection.vendor == "postgresql":
        return _copy_messages(rows)
    return _insert_messages(rows)


def _message_columns() -> str:
    meta = Message._meta
    return ", ".join(
        connection.ops.quote_name(meta.get_field(f).column)
        for f in ("session", "seq", "role", "sender", "text", "created_at")
    )


def _insert_messages(rows: Iterable[tuple]) -> int:
    """Other databases (SQLite): plain executemany, far cheaper than building model instances."""
    table = connection.ops.quote_name(Message._meta.db_table)
    sql = f"INSERT INTO {table} ({_message_columns()}) VALUES (%s, %s, %s, %s, %s, %s)"
    adapt = connection.ops.adapt_datetimefield_value
    count = 0
    with connection.cursor() as cursor:
        for batch in _batched(rows, 5000):
            cursor.executemany(sql, [(*r[:5], adapt(r[5])) for r in batch])
            count += len(batch)
    return count


def _copy_messages(rows: Iterable[tuple]) -> int:
    sql = f"COPY {connection.ops.quote_name(Message._meta.db_table)} ({_message_columns()}) FROM STDIN"
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count
