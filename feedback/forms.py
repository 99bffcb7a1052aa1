"""The client's feedback form: 20 items on a 0-5 scale (radio buttons) and 3 screening checkboxes."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .items import ITEM_SCALE, ITEMS, SCREENING_HELP, SCREENINGS, item_label, screening_label
from .selectors import FeedbackFilters
from .services import ERR_ITEM_MISSING, ERR_ITEM_RANGE

ITEM_ERRORS = {"required": ERR_ITEM_MISSING, "invalid_choice": ERR_ITEM_RANGE, "invalid": ERR_ITEM_RANGE}


class FeedbackForm(forms.Form):
    """Field names are ``Item.field`` / ``Screening.field``; a ``total`` sent along is ignored."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for item in ITEMS:
            self.fields[item.field] = forms.TypedChoiceField(
                label=item_label(item),
                choices=[(v, str(v)) for v in ITEM_SCALE],
                coerce=int,
                widget=forms.RadioSelect,
                error_messages=ITEM_ERRORS,
            )
        for screening in SCREENINGS:
            self.fields[screening.field] = forms.BooleanField(
                label=screening_label(screening), required=False, help_text=SCREENING_HELP[screening.field]
            )

    def item_values(self) -> dict[str, int]:
        return {item.field: self.cleaned_data[item.field] for item in ITEMS}

    def screening_values(self) -> dict[str, bool]:
        return {s.field: bool(self.cleaned_data[s.field]) for s in SCREENINGS}

    def first_error(self) -> str | None:
        """One message for the whole form (the same text whichever item is wrong)."""
        for errors in self.errors.values():
            return str(errors[0])
        return None


class FeedbackFilterForm(forms.Form):
    """Filters of the staff list (GET); every field is optional."""

    user = forms.CharField(label=_("Counselor or client"), required=False, max_length=100)
    screening = forms.ChoiceField(
        label=_("Screening"),
        required=False,
        choices=lambda: (
            [("", _("All")), ("any", _("Any screening item checked"))]
            + [(s.code, f"{s.code} {screening_label(s)}") for s in SCREENINGS]
        ),
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    total_min = forms.IntegerField(label=_("Total from"), required=False, min_value=0, max_value=100)
    total_max = forms.IntegerField(label=_("Total up to"), required=False, min_value=0, max_value=100)

    def filters(self) -> FeedbackFilters:
        if not self.is_valid():
            return FeedbackFilters()
        data = {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
        return FeedbackFilters(**data)
