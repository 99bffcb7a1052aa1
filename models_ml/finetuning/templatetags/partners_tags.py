from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

register = template.Library()


@register.filter
def pt_duration(seconds: int | None) -> str:
    """12 s / 3 min / 1 h 05 min."""
    if seconds is None:
        return "–"
    seconds = int(seconds)
    if seconds < 60:
        return _("%(s)s s") % {"s": seconds}
    minutes = round(seconds / 60)
    if minutes < 60:
        return _("%(m)s min") % {"m": minutes}
    return _("%(h)s h %(m)02d min") % {"h": minutes // 60, "m": minutes % 60}


@register.simple_tag
def pt_duration_formats():
    """``pt_duration``'s three formats as ``data-format-*`` attributes, for the page's script (a pushed ETA)."""
    return format_html(
        'data-format-s="{}" data-format-m="{}" data-format-hm="{}"',
        _("%(s)s s"),
        _("%(m)s min"),
        _("%(h)s h %(m)02d min"),
    )


TRAIT_LABELS = {
    "openness": gettext_lazy("Openness"),
    "conscientiousness": gettext_lazy("Conscientiousness"),
    "extraversion": gettext_lazy("Extraversion"),
    "agreeableness": gettext_lazy("Agreeableness"),
    "neuroticism": gettext_lazy("Neuroticism"),
}


@register.filter
def pt_trait(key: str) -> str:
    """Big Five trait key → its label in the current language."""
    return str(TRAIT_LABELS.get(key, key))
