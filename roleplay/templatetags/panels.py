"""``{% panels "slot" key=value ... %}``: the panels that higher apps registered for a slot (kokoro_site.panels)."""

from django import template
from django.utils.safestring import SafeString

from kokoro_site.panels import panels_render

register = template.Library()


@register.simple_tag(takes_context=True, name="panels")
def panels_tag(context, slot: str, **kwargs) -> SafeString:
    return panels_render(slot=slot, context=context, **kwargs)
