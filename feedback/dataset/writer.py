"""Writing parsed dialogues: pseudonymous accounts, sessions, feedback and messages.

Callers wrap these in a transaction (one per chunk of files, or one per file when a chunk is
refused). Messages go through PostgreSQL ``COPY`` (plain ``executemany`` elsewhere).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from itertools import islice

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection

from feedback.items import ITEMS, SCREENINGS
from feedback.models import Feedback
from roleplay.models import EndReason, Message, MessageTranslation, Profile, Session, SessionSource, SessionStatus

from .schema import ParsedDialogue

USERNAME_PREFIX = "kc-"
MAX_DURATION_MINUTES = 32767
SQLITE_BATCH = 5000


def dataset_username(dataset_id: int) -> str:
    return f"{USERNAME_PREFIX}{dataset_id}"


def batched(items: Iterable, size: int) -> Iterator[list]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def dialogues_write(todo: list[ParsedDialogue]) -> tuple[int, int]:
    """Store ``todo`` (inside the caller's transaction); (messages written, accounts created)."""
    users, created = _ensure_accounts({i for p in todo for i in (p.client_id, p.counselor_id)})
    return _insert_dialogues(todo, users), created


def imported_session_delete(evaluation_id: int) -> None:
    """Remove an imported dialogue (session, feedback, messages) before it is written again."""
    Session.objects.filter(feedback__evaluation_id=evaluation_id, source=SessionSource.IMPORTED).delete()


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
    count = _copy_messages(rows) if connection.vendor == "postgresql" else _insert_messages(rows)
    translated = [(s.pk, p.language, p.translation) for s, p in zip(sessions, todo, strict=True) if p.translation]
    if translated:
        translations_attach(translated)
    return count


def table_statistics_refresh() -> None:
    """PostgreSQL: ANALYZE the message tables after a bulk load, so the planner's estimates follow
    (with the statistics of an empty table, the translation export's queries took 4x longer)."""
    if connection.vendor != "postgresql":
        return
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in (Message, MessageTranslation))
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {tables}")


def translations_attach(items: list[tuple[int, str, tuple[str, ...]]], *, replace: bool = False) -> int:
    """Store (session id, language, one text per message) as the messages' translations.

    With ``replace``, the session's translations in that language are removed first. Returns the
    number of translations written."""
    session_ids = [sid for sid, _lang, _texts in items]
    ids: dict[int, list[int]] = {sid: [] for sid in session_ids}
    for sid, _seq, message_id in (
        Message.objects.filter(session_id__in=session_ids)
        .order_by("session_id", "seq")
        .values_list("session_id", "seq", "id")
    ):
        ids[sid].append(message_id)
    if replace:
        for language in {lang for _sid, lang, _texts in items}:
            sids = [sid for sid, lang, _texts in items if lang == language]
            MessageTranslation.objects.filter(message__session_id__in=sids, language=language).delete()
    rows = (
        (message_id, language, text)
        for sid, language, texts in items
        for message_id, text in zip(ids[sid], texts, strict=True)
    )
    table = MessageTranslation._meta
    columns = ", ".join(connection.ops.quote_name(table.get_field(f).column) for f in ("message", "language", "text"))
    name = connection.ops.quote_name(table.db_table)
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {name} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        for batch in batched(rows, SQLITE_BATCH):
            cursor.executemany(f"INSERT INTO {name} ({columns}) VALUES (%s, %s, %s)", batch)
            count += len(batch)
    return count


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
        for batch in batched(rows, SQLITE_BATCH):
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
