"""AI practice partners: glue between a generation backend, the role card and the refinement/ending rules.

``history`` is the session so far in dataset roles: ``[{"role": "counselor" | "client", "text": str}, ...]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .backends.base import GenerationBackend
from .data import ROLE_CLIENT, ROLE_COUNSELOR, chat_role
from .prompts import counselor_system_prompt
from .role_cards import RoleCard, render_client_system_prompt, render_role_card, role_card_persona
from .rules import DEFAULT_MAX_TRIES, RefinedReply, closing_phrases_for, detect_closing, refine_client_reply

# Greedy decoding for evaluations (the KokoroChat paper decoded greedily): hf drops temperature when not sampling,
# openai sends temperature 0; the retrieval partner is deterministic anyway.
GREEDY_PARAMS: dict[str, Any] = {"do_sample": False, "temperature": 0.0, "max_new_tokens": 256}


def to_chat_messages(history: Iterable[dict[str, str]], *, ai_role: str, system_prompt: str) -> list[dict[str, str]]:
    """Dataset turns -> chat messages from the AI's point of view (the AI is the assistant); consecutive
    messages of one speaker are merged as in training."""
    messages = [{"role": "system", "content": system_prompt}]
    for turn in history:
        role = chat_role(turn["role"], ai_role)
        if messages[-1]["role"] == role and len(messages) > 1:
            messages[-1] = {"role": role, "content": messages[-1]["content"] + "\n" + turn["text"]}
        else:
            messages.append({"role": role, "content": turn["text"]})
    return messages


def ai_client_reply(
    backend: GenerationBackend,
    card: RoleCard,
    history: list[dict[str, str]],
    *,
    max_tries: int = DEFAULT_MAX_TRIES,
    system_prompt_template: str | None = None,
    refine: bool = True,
    **params: Any,
) -> RefinedReply:
    """Next AI-client turn, regenerated while it breaks the client rules, trimmed (and flagged) as a last resort.

    ``system_prompt_template`` (with ``{card}``) replaces the platform's client prompt (e.g. the published
    Interactive Agents one); ``refine=False`` takes the first reply as it is (the paper refines only the counselor).
    The prompt and the rules are in the card's language (``card.language``: an English card prompts in English)."""
    if system_prompt_template is None:
        system_prompt = render_client_system_prompt(card)
    else:
        system_prompt = system_prompt_template.format(card=render_role_card(card))
    messages = to_chat_messages(history, ai_role=ROLE_CLIENT, system_prompt=system_prompt)
    turn_index = sum(1 for t in history if t["role"] == ROLE_CLIENT)
    # Language models read the card in the system prompt; the retrieval partner ranks by this text (others ignore it).
    params.setdefault("persona", role_card_persona(card))
    params.setdefault("persona_age", card.age)
    if not refine:
        return RefinedReply(text=backend.generate(messages, **params).strip(), tries=1)
    return refine_client_reply(
        lambda: backend.generate(messages, **params), turn_index=turn_index, max_tries=max_tries, language=card.language
    )


@dataclass
class CounselorReply:
    text: str
    closing_phrase: str | None
    refined: RefinedReply | None = None  # set when the counselor refinement ran (tries, trimmed, violations)

    @property
    def is_closing(self) -> bool:
        return self.closing_phrase is not None


def ai_counselor_reply(
    backend: GenerationBackend,
    history: list[dict[str, str]],
    *,
    system_prompt: str | None = None,
    closing_phrases: Iterable[str] | None = None,
    refine: bool = False,
    max_tries: int = DEFAULT_MAX_TRIES,
    language: str = "ja",
    **params: Any,
) -> CounselorReply:
    """Next AI-counselor turn and whether it closes the session. ``refine=True`` applies the Interactive Agents
    counselor refinement (at most 200 characters, no line break, no enumeration; regenerated, else trimmed).
    ``language``: the session's language gives the default system prompt and closing phrases (English for ``en``)."""
    if system_prompt is None:
        system_prompt = counselor_system_prompt(language)
    if closing_phrases is None:
        closing_phrases = closing_phrases_for(language)
    messages = to_chat_messages(history, ai_role=ROLE_COUNSELOR, system_prompt=system_prompt)
    refined = None
    if refine:
        from .ia_prompts import refine_counselor_reply

        refined = refine_counselor_reply(lambda: backend.generate(messages, **params), max_tries=max_tries)
        text = refined.text
    else:
        text = backend.generate(messages, **params).strip()
    return CounselorReply(text=text, closing_phrase=detect_closing(text, closing_phrases), refined=refined)
