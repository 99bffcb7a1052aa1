from django import template

from models_ml.coaching.presenters import live_panel_context
from roleplay.models import Role

register = template.Library()


@register.inclusion_tag("coaching/_live_panel.html", takes_context=True)
def coaching_live_panel(context, session) -> dict:
    """The live coaching panel; rendered for the session's counselor only (empty for anyone else)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if session is None or user is None or session.role_of(user) != Role.COUNSELOR:
        return {"show": False}
    return {"show": True, "request": request, "csrf_token": context.get("csrf_token"), **live_panel_context(session)}


@register.filter
def pct(value) -> str:
    """0.25 -> "25%"; None -> "–"."""
    return "–" if value is None else f"{round(float(value) * 100)}%"


@register.filter
def num(value, digits: int = 1) -> str:
    return "–" if value is None else f"{float(value):.{int(digits)}f}"
