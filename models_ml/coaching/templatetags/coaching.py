from django import template

register = template.Library()


@register.filter
def pct(value) -> str:
    """0.25 -> "25%"; None -> "–"."""
    return "–" if value is None else f"{round(float(value) * 100)}%"


@register.filter
def num(value, digits: int = 1) -> str:
    return "–" if value is None else f"{float(value):.{int(digits)}f}"
