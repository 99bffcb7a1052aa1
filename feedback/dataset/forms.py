"""Forms of the administrators' dataset pages (search and export options)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from roleplay.models import SessionSource
from roleplay.topics import Topic

from .multilingual import LANGUAGE_RE, ORIGINAL_LANGUAGE
from .selectors import ExportOptions, SessionSearch

ERR_SCORE_ORDER = _("The minimum score must not be above the maximum.")
ERR_DATE_ORDER = _("The start date must not be after the end date.")
ERR_LANGUAGE_NEEDED = _("The translations format needs the translation's language (a code such as en).")
ERR_LANGUAGE_UNUSED = _("The language goes with the translations format only.")
ERR_BAD_LANGUAGE = _("Unknown language code %(value)s: give a translation's code such as en or zh (not ja).")
MULTILINGUAL = "multilingual"

SUBSET_CHOICES = [
    ("all", _("All dialogues")),
    ("full", _("Full (score ≤ 98)")),
    ("low", _("Low (score < 70)")),
    ("high", _("High (score 70–98)")),
    ("test", _("Test (score 99–100)")),
]
WEB_FORMAT_CHOICES = [
    ("zip", _("ZIP of JSON files (KokoroChat format)")),
    ("jsonl", _("JSON Lines (one dialogue per line)")),
    ("chat-jsonl", _("Chat JSON Lines (fine-tuning format)")),
    (MULTILINGUAL, _("ZIP of translations ({language}{id}.json, Multilingual KokoroChat format)")),
]
SOURCE_CHOICES = [("", _("All sources")), *SessionSource.choices, ("synthetic", _("Synthetic (LLM-generated)"))]


class SessionSearchForm(forms.Form):
    q = forms.CharField(label=_("Text"), required=False, max_length=100)
    topic = forms.ChoiceField(label=_("Topic"), required=False, choices=[("", _("All topics")), *Topic.choices])
    score_min = forms.IntegerField(label=_("Score from"), required=False, min_value=0, max_value=100)
    score_max = forms.IntegerField(label=_("Score to"), required=False, min_value=0, max_value=100)
    source = forms.ChoiceField(label=_("Source"), required=False, choices=SOURCE_CHOICES)

    def clean(self):
        data = super().clean()
        lo, hi = data.get("score_min"), data.get("score_max")
        if lo is not None and hi is not None and lo > hi:
            raise forms.ValidationError(ERR_SCORE_ORDER)
        return data

    def to_search(self) -> SessionSearch:
        d = self.cleaned_data
        return SessionSearch(
            q=d.get("q") or "",
            topic=d.get("topic") or "",
            score_min=d.get("score_min"),
            score_max=d.get("score_max"),
            source=d.get("source") or "",
        )


class ExportForm(forms.Form):
    subset = forms.ChoiceField(label=_("Subset"), choices=SUBSET_CHOICES, initial="all")
    quality_filter = forms.BooleanField(
        label=_("Quality filter (≥ 30 messages, ≥ 30 minutes, not all items 3)"), required=False
    )
    since = forms.DateField(label=_("From date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    include_synthetic = forms.BooleanField(label=_("Include synthetic (LLM-generated) sessions"), required=False)
    fmt = forms.ChoiceField(label=_("Format"), choices=WEB_FORMAT_CHOICES, initial="zip")
    language = forms.CharField(
        label=_("Translation language"),
        required=False,
        max_length=20,
        help_text=_("With the translations format: the language code of the imported translation, e.g. en."),
        widget=forms.TextInput(attrs={"placeholder": "en", "size": 6}),
    )

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            raise forms.ValidationError(ERR_DATE_ORDER)
        language = (data.get("language") or "").strip()
        if data.get("fmt") == MULTILINGUAL and not language:
            self.add_error("language", ERR_LANGUAGE_NEEDED)
        elif language and data.get("fmt") != MULTILINGUAL:
            self.add_error("language", ERR_LANGUAGE_UNUSED)
        elif language and (not LANGUAGE_RE.fullmatch(language) or language.lower() == ORIGINAL_LANGUAGE):
            self.add_error("language", ERR_BAD_LANGUAGE % {"value": language})
        data["language"] = language
        return data

    def to_options(self) -> ExportOptions:
        d = self.cleaned_data
        return ExportOptions(
            subset=d["subset"],
            quality_filter=d["quality_filter"],
            since=d.get("since"),
            until=d.get("until"),
            include_synthetic=d["include_synthetic"],
        )
