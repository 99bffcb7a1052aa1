"""Reads of message translations (the Multilingual KokoroChat import) for side-by-side transcripts.

A transcript page shows the original (Japanese) and one translation with a toggle: original,
translation or both. The translation shown is the UI language's when the session has it, else
English, else the first one stored; the toggle starts on the translation when it is in the UI
language, else on the original.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import get_language, get_language_info, pgettext_lazy

from roleplay.models import MessageTranslation

ORIGINAL_LANGUAGE = "ja"
VIEW_ORIGINAL, VIEW_TRANSLATION, VIEW_BOTH = "original", "translation", "both"
VIEWS = (VIEW_ORIGINAL, VIEW_TRANSLATION, VIEW_BOTH)
PREFERRED = "en"


@dataclass(frozen=True)
class TranslationView:
    """One session's translation as a page shows it (``language`` None: the session has none)."""

    language: str | None = None
    language_name: str = ""
    default: str = VIEW_ORIGINAL
    texts: dict[int, str] = field(default_factory=dict)  # message seq -> translated text

    def text_for(self, seq: int) -> str | None:
        return self.texts.get(seq)


LANGUAGE_NAMES = {
    "en": pgettext_lazy("translation language", "English"),
    "zh": pgettext_lazy("translation language", "Chinese"),
}


def _name(code: str) -> str:
    if code.split("-")[0].lower() in LANGUAGE_NAMES:
        return str(LANGUAGE_NAMES[code.split("-")[0].lower()])
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def session_languages(*, session_id: int) -> list[str]:
    """The languages the session's messages are translated into, sorted."""
    rows = MessageTranslation.objects.filter(message__session_id=session_id, message__seq=1)
    return sorted(rows.values_list("language", flat=True))


def session_translation(*, session_id: int, ui_language: str | None = None) -> TranslationView:
    """The translation a transcript of ``session_id`` shows beside the original, and its default view."""
    languages = session_languages(session_id=session_id)
    if not languages:
        return TranslationView()
    ui = (ui_language or get_language() or ORIGINAL_LANGUAGE).split("-")[0].lower()
    by_base = {code.split("-")[0].lower(): code for code in languages}
    language = by_base.get(ui) or by_base.get(PREFERRED) or languages[0]
    texts = dict(
        MessageTranslation.objects.filter(message__session_id=session_id, language=language).values_list(
            "message__seq", "text"
        )
    )
    default = VIEW_TRANSLATION if language.split("-")[0].lower() == ui else VIEW_ORIGINAL
    return TranslationView(language=language, language_name=_name(language), default=default, texts=texts)
