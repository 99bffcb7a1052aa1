"""Which prompts and refinement the simulated sessions use (``settings.KOKORO_SIM_PROTOCOL``).

* ``interactive_agents`` (default): as published (Qiu & Lan 2024; ``models_ml.llm.ia_prompts``): the counselor
  prompt with the three stages (exploration → insight → action) and nine rules, the published client prompt,
  the <=200-character / no-line-break / no-enumeration refinement on the **counselor**, none on the client, and
  the LLM judge with the paper's six supervisor criteria (``judging.ARENA_JUDGE_SYSTEM``).
* ``platform``: the platform's earlier variant, kept under this name: the short generic counselor prompt
  (``prompts.COUNSELOR_SYSTEM_PROMPT``), the platform's client prompt, the refinement on the **client**, and the
  judge with our counselling-skill principles (``judging.ARENA_JUDGE_SYSTEM_PLATFORM``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

INTERACTIVE_AGENTS = "interactive_agents"
PLATFORM = "platform"
PROTOCOLS = (INTERACTIVE_AGENTS, PLATFORM)
ERR_PROTOCOL = "KOKORO_SIM_PROTOCOL must be one of: " + ", ".join(PROTOCOLS)


def current() -> str:
    name = settings.KOKORO_SIM_PROTOCOL or INTERACTIVE_AGENTS
    if name not in PROTOCOLS:
        raise ValueError(ERR_PROTOCOL)
    return name


def client_params(language: str = "ja") -> dict[str, Any]:
    """Keyword arguments of ``ai_client_reply`` for a simulated client. The published prompts exist in
    Japanese only: an English simulation uses the platform's English prompts (the card's language)."""
    if current() == PLATFORM or language != "ja":
        return {}
    from models_ml.llm.ia_prompts import IA_CLIENT_SYSTEM_PROMPT_TEMPLATE

    return {"system_prompt_template": IA_CLIENT_SYSTEM_PROMPT_TEMPLATE, "refine": False}


def counselor_params(language: str = "ja") -> dict[str, Any]:
    """Keyword arguments of ``ai_counselor_reply`` for a simulated counselor (English: the platform's English
    counselor prompt and closing phrases, no 200-character refinement)."""
    if language != "ja":
        return {"language": language}
    if current() == PLATFORM:
        return {}
    from models_ml.llm.ia_prompts import IA_COUNSELOR_SYSTEM_PROMPT

    return {"system_prompt": IA_COUNSELOR_SYSTEM_PROMPT, "refine": True}


def judge_system() -> str:
    """The LLM judge's system prompt: the paper's supervisor criteria, or the platform's skill principles."""
    from .judging import ARENA_JUDGE_SYSTEM, ARENA_JUDGE_SYSTEM_PLATFORM

    return ARENA_JUDGE_SYSTEM_PLATFORM if current() == PLATFORM else ARENA_JUDGE_SYSTEM
