from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from models_ml.finetuning.models import ModelKind, ModelVersion, RoleCard

from .models import JudgeJob, LabelKind
from .services import MAX_BATTLES, MAX_SESSIONS_PER_CARD, MAX_TURNS


def _versions(kind: str, label: str) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        queryset=ModelVersion.objects.filter(kind=kind, is_active=True),
        required=False,
        empty_label=_("Default"),
        label=label,
    )


class SimulationForm(forms.Form):
    role_cards = forms.ModelMultipleChoiceField(
        queryset=RoleCard.objects.filter(is_active=True), widget=forms.CheckboxSelectMultiple, label=_("Role cards")
    )
    sessions_per_card = forms.IntegerField(
        min_value=1, max_value=MAX_SESSIONS_PER_CARD, initial=1, label=_("Sessions per card")
    )
    max_turns = forms.IntegerField(min_value=2, max_value=MAX_TURNS, initial=MAX_TURNS, label=_("Max turns"))
    language = forms.ChoiceField(
        choices=[("ja", _("Japanese")), ("en", _("English"))],
        initial="ja",
        required=False,  # without it: Japanese
        label=_("Language"),
        help_text=_("English: English role cards and prompts; the English retrieval partners by default."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["client_version"] = _versions(ModelKind.CLIENT, _("AI client model"))
        self.fields["counselor_version"] = _versions(ModelKind.COUNSELOR, _("AI counselor model"))
        self.fields["role_cards"].label_from_instance = lambda card: f"{card.name} ({card.get_language_display()})"


class ArenaStartForm(forms.Form):
    # The human arena and its judge are Japanese only (English cards are for English simulations and practice).
    role_card = forms.ModelChoiceField(
        queryset=RoleCard.objects.filter(is_active=True, language="ja"), label=_("Role card")
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model_a"] = _versions(ModelKind.COUNSELOR, _("Counselor model A"))
        self.fields["model_b"] = _versions(ModelKind.COUNSELOR, _("Counselor model B"))
        self.fields["client_version"] = _versions(ModelKind.CLIENT, _("AI client model"))


class JudgeJobForm(forms.Form):
    mode = forms.ChoiceField(
        choices=[
            (JudgeJob.MODE_NEW, _("New battles on sampled histories")),
            (JudgeJob.MODE_REJUDGE, _("Re-judge the human battles")),
        ],
        label=_("Mode"),
    )
    n_battles = forms.IntegerField(min_value=1, max_value=MAX_BATTLES, initial=20, label=_("Battles"))
    both_orders = forms.BooleanField(required=False, label=_("Judge both presentation orders"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["judge_version"] = _versions(ModelKind.SCORER, _("Judge model"))
        self.fields["model_a"] = _versions(ModelKind.COUNSELOR, _("Counselor model A"))
        self.fields["model_b"] = _versions(ModelKind.COUNSELOR, _("Counselor model B"))


class EvalForm(forms.Form):
    backend_name = forms.ChoiceField(
        choices=[("retrieval", "retrieval"), ("openai", "openai"), ("hf", "hf")], label=_("Backend")
    )
    limit = forms.IntegerField(min_value=1, required=False, label=_("Limit (turns)"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model_version"] = forms.ModelChoiceField(
            queryset=ModelVersion.objects.filter(kind=ModelKind.COUNSELOR),
            required=False,
            empty_label=_("Default"),
            label=_("Model version"),
        )


class LabelForm(forms.Form):
    kind = forms.ChoiceField(choices=LabelKind.choices, label=_("Kind"))
    source = forms.ChoiceField(
        choices=[
            ("simulated", _("Simulated")),
            ("live", _("Role-play")),
            ("ai", _("AI practice")),
            ("imported", _("Imported")),
            ("all", _("All")),
        ],
        label=_("Sessions"),
    )
    limit = forms.IntegerField(min_value=1, max_value=5000, initial=100, label=_("At most"))
    overwrite = forms.BooleanField(required=False, label=_("Overwrite existing labels"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["judge_version"] = _versions(ModelKind.SCORER, _("Judge model"))
