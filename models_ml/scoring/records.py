"""The in-memory record every scorer backend trains and predicts on.

Built either from the published KokoroChat JSON files (research use) or from the database
(Session / Message / Feedback, see ``models_ml.scoring.selectors``); both paths give the same shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from feedback.items import ITEMS, SCREENINGS

N_ITEMS = len(ITEMS)
N_SCREENINGS = len(SCREENINGS)


@dataclass(frozen=True)
class Utterance:
    role: str  # "counselor" | "client"
    time: datetime | None
    text: str


@dataclass
class LabelledDialogue:
    """One session: its messages and, when labelled, the client's 20 items and 3 screening flags.

    ``client_key`` / ``counselor_key`` identify participants across sessions: ``p<dataset id>``
    for dataset participants (imported accounts keep their dataset id), ``u<user pk>`` otherwise.
    """

    session_key: str
    messages: list[Utterance]
    items: tuple[int, ...] | None = None
    screening: tuple[bool, bool, bool] = (False, False, False)
    client_key: str = ""
    counselor_key: str = ""
    topic: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def labelled(self) -> bool:
        return self.items is not None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def dialogue_from_json(obj: dict, *, session_key: str, translated: bool = False) -> LabelledDialogue:
    """Map one published KokoroChat JSON object to a record (English review keys).

    A Multilingual KokoroChat object (``review_by_client``; messages with ``origin`` and
    ``content``) gives the Japanese ``origin`` texts, or with ``translated`` the translations."""
    review = obj.get("review_by_client_en") or obj.get("review_by_client") or {}
    text_key = "content" if translated else "origin"
    items = tuple(int(review[i.en]) for i in ITEMS) if all(review.get(i.en) is not None for i in ITEMS) else None
    screening = tuple(bool(review.get(s.en)) for s in SCREENINGS)
    return LabelledDialogue(
        session_key=session_key,
        messages=[
            Utterance(m.get("role", ""), _parse_time(m.get("time")), m.get("utterance", m.get(text_key)) or "")
            for m in obj.get("dialogue", [])
        ],
        items=items,
        screening=screening,  # type: ignore[arg-type]
        client_key=f"p{review['client_id']}" if review.get("client_id") is not None else "",
        counselor_key=f"p{review['counselor_id']}" if review.get("counselor_id") is not None else "",
        topic=(obj.get("topic") or {}).get("main_en", ""),
    )


def load_folder(path: str | Path, *, limit: int | None = None, translated: bool = False) -> list[LabelledDialogue]:
    """Read every ``*.json`` of a KokoroChat folder, sorted by numeric file name (a Multilingual
    KokoroChat folder such as ``English/``: with ``translated``, its translated texts)."""
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"not a folder: {folder}")
    files = sorted(folder.glob("*.json"), key=lambda p: (len(p.stem), p.stem))
    if limit:
        files = files[:limit]
    out = []
    for f in files:
        with f.open(encoding="utf-8") as fh:
            out.append(dialogue_from_json(json.load(fh), session_key=f.stem, translated=translated))
    return out
