"""``{{ translation|text_for:m.seq }}``: a message's translated text on side-by-side transcripts."""

from django import template

register = template.Library()


@register.filter
def text_for(view, seq):
    """The translation of message ``seq`` (None when there is none or no view)."""
    return view.text_for(seq) if view is not None and hasattr(view, "text_for") else None
