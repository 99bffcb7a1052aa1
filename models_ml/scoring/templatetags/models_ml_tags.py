from django import template

from models_ml.scoring.presenters import panel_context

register = template.Library()


@register.simple_tag
def prediction_panel_context(session) -> dict:
    return panel_context(session)
