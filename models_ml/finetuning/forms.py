from __future__ import annotations

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from models_ml.llm.role_cards import BIG_FIVE_TRAITS, CARD_FIELDS, MAX_CHARS, MAX_TRAIT_CHARS

from .models import DataSubset, JobTask, ModelKind
from .services import ERR_HP_BAD_JSON, ERR_HP_NOT_OBJECT, base_model_problem, default_hyperparameters

TARGET_ROLES = [("counselor", _("Counselor")), ("client", _("Client"))]


class FineTuneJobForm(forms.Form):
    task = forms.ChoiceField(label=_("Task"), choices=JobTask.choices, initial=JobTask.RESPONSE)
    target_role = forms.ChoiceField(
        label=_("The model plays"),
        choices=TARGET_ROLES,
        initial="counselor",
        required=False,
        help_text=_("Response task only: which speaker the model learns to play."),
    )
    data_subset = forms.ChoiceField(label=_("Training data"), choices=DataSubset.choices, initial=DataSubset.FULL)
    quality_filter = forms.BooleanField(
        label=_("Quality filter (≥ 30 messages, ≥ 30 minutes, not all items 3)"), required=False
    )
    include_synthetic = forms.BooleanField(label=_("Include synthetic sessions"), required=False)
    base_model = forms.CharField(
        label=_("Base model"),
        max_length=500,
        help_text=_(
            "A local model folder (with config.json and a chat-template tokenizer) or a model id already in the "
            "Hugging Face cache: nothing can be downloaded."
        ),
    )
    max_steps = forms.IntegerField(
        label=_("Max steps"),
        required=False,
        min_value=1,
        help_text=_("Optional: stop after this many updates (short runs); empty = the full schedule."),
    )
    hyperparameters = forms.CharField(
        label=_("Hyper-parameters (JSON)"),
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "false", "class": "mono"}),
        help_text=_("Prefilled with the paper's defaults for the chosen task (KokoroChat, Appendix D)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("hyperparameters", json.dumps(default_hyperparameters("response"), indent=2))

    def clean_base_model(self) -> str:
        """Refused here, before anything is queued, when the worker could not load it (no download possible)."""
        value = self.cleaned_data["base_model"].strip()
        problem = base_model_problem(value) if value else None
        if problem:
            raise forms.ValidationError(problem)
        return value

    def clean_hyperparameters(self) -> dict:
        raw = self.cleaned_data["hyperparameters"]
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(ERR_HP_BAD_JSON % {"detail": exc.msg}) from None
        if not isinstance(data, dict):
            raise forms.ValidationError(ERR_HP_NOT_OBJECT)
        return data

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        hp = dict(data["hyperparameters"])
        hp["target_role"] = (data["target_role"] or "counselor") if data["task"] == JobTask.RESPONSE else "counselor"
        return {
            "task": data["task"],
            "base_model": data["base_model"],
            "data_subset": data["data_subset"],
            "quality_filter": data["quality_filter"],
            "include_synthetic": data["include_synthetic"],
            "hyperparameters": hp,
            "max_steps": data["max_steps"],
        }


class RoleCardForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("ja", _("Japanese")), ("en", _("English"))],
        initial="ja",
        required=False,  # a form without it (older pages, scripts) writes a Japanese card
        help_text=_("The language the card is written in; the AI client is prompted in it."),
    )
    gender = forms.CharField(label=_("Gender"), max_length=MAX_CHARS["gender"])
    age = forms.IntegerField(label=_("Age"), min_value=10, max_value=100)
    education = forms.CharField(label=_("Education"), max_length=MAX_CHARS["education"])
    occupation = forms.CharField(label=_("Occupation"), max_length=MAX_CHARS["occupation"])
    marital_status = forms.CharField(label=_("Marital status"), max_length=MAX_CHARS["marital_status"])
    family = forms.CharField(
        label=_("Family relationships"), max_length=MAX_CHARS["family"], widget=forms.Textarea(attrs={"rows": 2})
    )
    openness = forms.CharField(label=_("Openness"), max_length=MAX_TRAIT_CHARS)
    conscientiousness = forms.CharField(label=_("Conscientiousness"), max_length=MAX_TRAIT_CHARS)
    extraversion = forms.CharField(label=_("Extraversion"), max_length=MAX_TRAIT_CHARS)
    agreeableness = forms.CharField(label=_("Agreeableness"), max_length=MAX_TRAIT_CHARS)
    neuroticism = forms.CharField(label=_("Neuroticism"), max_length=MAX_TRAIT_CHARS)
    resistance = forms.CharField(
        label=_("Resistance to counseling"),
        max_length=MAX_CHARS["resistance"],
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    chief_complaint = forms.CharField(
        label=_("Chief complaint"),
        max_length=MAX_CHARS["chief_complaint"],
        widget=forms.Textarea(attrs={"rows": 4}),
    )

    TRAITS = tuple(BIG_FIVE_TRAITS)

    @classmethod
    def initial_from(cls, card: Any) -> dict[str, Any]:
        data = {f: getattr(card, f) for f in ("name", "language", *(f for f in CARD_FIELDS if f != "big_five"))}
        data.update({t: card.big_five.get(t, "") for t in cls.TRAITS})
        return data

    def card_data(self) -> dict[str, Any]:
        data = {k: v for k, v in self.cleaned_data.items() if k not in self.TRAITS}
        data["language"] = data.get("language") or "ja"
        data["big_five"] = {t: self.cleaned_data[t] for t in self.TRAITS}
        return data


class BuildRetrievalForm(forms.Form):
    role = forms.ChoiceField(choices=[(ModelKind.COUNSELOR, _("Counselor")), (ModelKind.CLIENT, _("Client"))])
