"""Role cards for the AI client: the nine persona elements of the Interactive Agents paper, validated, and
rendered into the AI client's system prompt in the card's language (Japanese, or English for English sessions)."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .prompts import client_system_prompt_template, prompt_language
from .rules import max_client_reply_chars

EXAMPLES_DIR = Path(__file__).parent / "role_cards"  # Japanese examples; English ones in role_cards/en/
CARD_LANGUAGES: tuple[str, ...] = ("ja", "en")  # the languages a card is written (and rendered) in
BIG_FIVE_TRAITS: dict[str, str] = {
    "openness": "開放性",
    "conscientiousness": "誠実性",
    "extraversion": "外向性",
    "agreeableness": "協調性",
    "neuroticism": "神経症傾向",
}
FIELD_LABELS: dict[str, str] = {
    "gender": "性別",
    "age": "年齢",
    "education": "学歴",
    "occupation": "職業",
    "marital_status": "婚姻状況",
    "family": "家族関係",
    "big_five": "性格（ビッグファイブ）",
    "resistance": "カウンセリングへの抵抗感",
    "chief_complaint": "主訴",
}
BIG_FIVE_TRAITS_EN: dict[str, str] = {
    "openness": "Openness",
    "conscientiousness": "Conscientiousness",
    "extraversion": "Extraversion",
    "agreeableness": "Agreeableness",
    "neuroticism": "Neuroticism",
}
FIELD_LABELS_EN: dict[str, str] = {
    "gender": "Gender",
    "age": "Age",
    "education": "Education",
    "occupation": "Occupation",
    "marital_status": "Marital status",
    "family": "Family relationships",
    "big_five": "Personality (Big Five)",
    "resistance": "Resistance to counseling",
    "chief_complaint": "Chief complaint",
}
# Maximum characters per text field: long enough for a persona, short enough to keep the prompt small.
MAX_CHARS: dict[str, int] = {
    "gender": 20,
    "education": 60,
    "occupation": 60,
    "marital_status": 30,
    "family": 200,
    "resistance": 200,
    "chief_complaint": 400,
}
# The one definition of a role card's elements (the nine of the paper, in its order) and of its text fields;
# the model, the form, the services and the arena's fidelity text all derive from these.
CARD_FIELDS: tuple[str, ...] = tuple(FIELD_LABELS)
TEXT_FIELDS: tuple[str, ...] = tuple(MAX_CHARS)
MAX_TRAIT_CHARS = 40
AGE_MIN, AGE_MAX = 10, 100

ERR_NOT_OBJECT = "A role card must be a JSON object."
ERR_MISSING = "Role card field '{field}' is required."
ERR_UNKNOWN = "Unknown role card field(s): {fields}."
ERR_NOT_TEXT = "Role card field '{field}' must be text."
ERR_TOO_LONG = "Role card field '{field}' is too long ({length} characters, at most {max})."
ERR_AGE = f"Role card field 'age' must be a whole number between {AGE_MIN} and {AGE_MAX}."
ERR_BIG_FIVE = "Role card field 'big_five' must give exactly these traits: " + ", ".join(BIG_FIVE_TRAITS) + "."
ERR_TRAIT = "Big Five trait '{trait}' must be a short text (1-{max} characters)."
ERR_BAD_JSON = "The role card file {path} is not valid JSON: {error}"
ERR_LANGUAGE = "Role card field 'language' must be one of: " + ", ".join(CARD_LANGUAGES) + "."


class RoleCardError(ValueError):
    pass


@dataclass(frozen=True)
class RoleCard:
    gender: str
    age: int
    education: str
    occupation: str
    marital_status: str
    family: str
    big_five: dict[str, str]
    resistance: str
    chief_complaint: str
    name: str = ""  # optional label for lists, not shown to the model
    language: str = "ja"  # the language the card is written in; its prompt is rendered in that language

    def __post_init__(self) -> None:
        validate_role_card(self)

    @classmethod
    def from_dict(cls, data: Any) -> RoleCard:
        if not isinstance(data, dict):
            raise RoleCardError(ERR_NOT_OBJECT)
        allowed = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise RoleCardError(ERR_UNKNOWN.format(fields=", ".join(unknown)))
        for name in FIELD_LABELS:
            if data.get(name) in (None, "", {}):
                raise RoleCardError(ERR_MISSING.format(field=name))
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def validate_role_card(card: RoleCard) -> None:
    for name, limit in MAX_CHARS.items():
        value = getattr(card, name)
        if not isinstance(value, str):
            raise RoleCardError(ERR_NOT_TEXT.format(field=name))
        if not value.strip():
            raise RoleCardError(ERR_MISSING.format(field=name))
        if len(value) > limit:
            raise RoleCardError(ERR_TOO_LONG.format(field=name, length=len(value), max=limit))
    if isinstance(card.age, bool) or not isinstance(card.age, int) or not AGE_MIN <= card.age <= AGE_MAX:
        raise RoleCardError(ERR_AGE)
    if not isinstance(card.big_five, dict) or set(card.big_five) != set(BIG_FIVE_TRAITS):
        raise RoleCardError(ERR_BIG_FIVE)
    for trait, value in card.big_five.items():
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_TRAIT_CHARS:
            raise RoleCardError(ERR_TRAIT.format(trait=trait, max=MAX_TRAIT_CHARS))
    if card.language not in CARD_LANGUAGES:
        raise RoleCardError(ERR_LANGUAGE)
    if not isinstance(card.name, str) or len(card.name) > 60:
        raise RoleCardError(ERR_TOO_LONG.format(field="name", length=len(str(card.name)), max=60))


def render_role_card(card: RoleCard) -> str:
    english = prompt_language(card.language) == "en"
    traits_labels, labels = (BIG_FIVE_TRAITS_EN, FIELD_LABELS_EN) if english else (BIG_FIVE_TRAITS, FIELD_LABELS)
    traits = (", " if english else "、").join(f"{traits_labels[k]}: {card.big_five[k]}" for k in BIG_FIVE_TRAITS)
    values = {
        "gender": card.gender,
        "age": f"{card.age} years old" if english else f"{card.age}歳",
        "education": card.education,
        "occupation": card.occupation,
        "marital_status": card.marital_status,
        "family": card.family,
        "big_five": traits,
        "resistance": card.resistance,
        "chief_complaint": card.chief_complaint,
    }
    title = "# Your persona" if english else "# あなたの人物設定"
    return title + "\n" + "\n".join(f"- {labels[k]}: {v}" for k, v in values.items())


def role_card_persona(card: RoleCard) -> str:
    """What the client talks about, for partners that match text rather than read a prompt (retrieval)."""
    return f"{card.chief_complaint} {card.occupation} {card.family}"


def render_client_system_prompt(card: RoleCard, *, max_chars: int | None = None) -> str:
    """The AI client's system prompt in the card's language: persona + the Interactive Agents speaking rules."""
    template = client_system_prompt_template(card.language)
    return template.format(card=render_role_card(card), max_chars=max_chars or max_client_reply_chars(card.language))


def load_role_card(path: str | Path) -> RoleCard:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RoleCardError(ERR_BAD_JSON.format(path=path.name, error=exc.msg)) from exc
    return RoleCard.from_dict(data)


def example_role_cards(language: str = "ja") -> dict[str, RoleCard]:
    """The invented example cards shipped in ``role_cards/`` (Japanese) or ``role_cards/<language>/`` keyed by
    file stem; each English card says ``"language": "en"``."""
    folder = EXAMPLES_DIR if language == "ja" else EXAMPLES_DIR / language
    return {p.stem: load_role_card(p) for p in sorted(folder.glob("*.json"))}
