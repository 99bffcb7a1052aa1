"""The human arena: two anonymous counselor replies, judged by a person; the chosen one continues."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from typing import Any

from django.db import transaction

from models_ml.finetuning.models import ModelKind, RoleCard
from models_ml.llm.backends import GenerationError
from models_ml.llm.partners import ai_client_reply, ai_counselor_reply

from .. import protocol as sim
from ..models import (
    ArenaBattle,
    ArenaDialogue,
    JudgeKind,
)
from .common import (
    ERR_BAD_POSITION,
    ERR_DIALOGUE_FINISHED,
    ERR_NO_CARDS,
    ERR_STALE_PAIR,
    MAX_TURNS,
    ArenaError,
    _check_version,
    backend_for,
    closing_phrases,
    counselor_pair_check,
    model_key,
    with_retries,
)

logger = logging.getLogger(__name__)


# --- human arena -------------------------------------------------------------------------------------


def _pair_key(history: list[dict[str, str]], reply_a: str, reply_b: str, a: str, b: str) -> str:
    blob = json.dumps([history, sorted([(a, reply_a), (b, reply_b)])], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _propose(dialogue: ArenaDialogue) -> None:
    """Both counselor backends answer the history; the order shown is random."""
    history = dialogue.history
    a = ai_counselor_reply(backend_for(kind=ModelKind.COUNSELOR, version=dialogue.model_a), history)
    b = ai_counselor_reply(backend_for(kind=ModelKind.COUNSELOR, version=dialogue.model_b), history)
    dialogue.pending = {
        "a": a.text,
        "b": b.text,
        "order": secrets.choice(["ab", "ba"]),
        "token": secrets.token_hex(8),
    }


def _client_turn(dialogue: ArenaDialogue) -> None:
    card = dialogue.role_card.to_core()
    backend = backend_for(kind=ModelKind.CLIENT, version=dialogue.client_version)
    reply = with_retries(lambda: ai_client_reply(backend, card, dialogue.history, **sim.client_params()))
    dialogue.history = [*dialogue.history, {"role": "client", "text": reply.text}]


@transaction.atomic
def arena_dialogue_create(
    *,
    role_card_id: int,
    model_a_id: int | None,
    model_b_id: int | None,
    client_version_id: int | None = None,
    created_by: Any = None,
) -> ArenaDialogue:
    card = RoleCard.objects.filter(pk=role_card_id, is_active=True).first()
    if card is None:
        raise ArenaError(message=ERR_NO_CARDS)
    model_a = _check_version(model_a_id, ModelKind.COUNSELOR)
    model_b = _check_version(model_b_id, ModelKind.COUNSELOR)
    counselor_pair_check(model_a, model_b)
    dialogue = ArenaDialogue(
        role_card=card,
        model_a=model_a,
        model_b=model_b,
        client_version=_check_version(client_version_id, ModelKind.CLIENT),
        created_by=created_by,
    )
    try:
        _client_turn(dialogue)  # the client greets first
        _propose(dialogue)
    except GenerationError as exc:
        raise ArenaError(message=exc) from exc
    dialogue.save()
    return dialogue


@transaction.atomic
def arena_dialogue_judge(*, dialogue: ArenaDialogue, position: str, token: str, user: Any) -> ArenaBattle:
    """``position``: "1" (shown first), "2" (shown second) or "tie". The preferred reply (a tie keeps the
    first shown) continues the dialogue, the AI client answers and the next pair is generated."""
    dialogue = ArenaDialogue.objects.select_for_update().get(pk=dialogue.pk)
    if dialogue.finished:
        raise ArenaError(message=ERR_DIALOGUE_FINISHED)
    if position not in ("1", "2", "tie"):
        raise ArenaError(message=ERR_BAD_POSITION)
    pending = dialogue.pending
    if not pending or pending.get("token") != token:
        raise ArenaError(message=ERR_STALE_PAIR)
    shown = list(pending["order"])  # e.g. ["b", "a"]: B's reply shown first
    winner = "tie" if position == "tie" else shown[int(position) - 1]
    a_key, b_key = model_key(dialogue.model_a), model_key(dialogue.model_b)
    battle = ArenaBattle.objects.create(
        dialogue=dialogue,
        history=dialogue.history,
        model_a=a_key,
        model_b=b_key,
        model_a_version=dialogue.model_a,
        model_b_version=dialogue.model_b,
        shown_order=pending["order"],
        reply_a=pending["a"],
        reply_b=pending["b"],
        judge_kind=JudgeKind.HUMAN,
        judge_user=user,
        pair_key=_pair_key(dialogue.history, pending["a"], pending["b"], a_key, b_key),
        winner=winner,
    )
    chosen = pending[shown[0] if winner == "tie" else winner]
    dialogue.history = [*dialogue.history, {"role": "counselor", "text": chosen}]
    dialogue.pending = {}
    if judging_is_closing(chosen) or len(dialogue.history) >= MAX_TURNS:
        dialogue.finished = True
    else:
        try:
            _client_turn(dialogue)
            _propose(dialogue)
        except (GenerationError, ArenaError) as exc:
            dialogue.error = str(exc)
            dialogue.finished = True
    dialogue.save()
    return battle


def judging_is_closing(text: str) -> bool:
    from models_ml.llm.rules import detect_closing

    return detect_closing(text, closing_phrases()) is not None


__all__ = [
    "arena_dialogue_create",
    "arena_dialogue_judge",
    "judging_is_closing",
]
