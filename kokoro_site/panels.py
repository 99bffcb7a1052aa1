"""Panels: how a page of a lower app shows a part that belongs to a higher app, without importing it.

Apps import one way (kokoro_site <- roleplay <- feedback <- models_ml/*). When a roleplay or feedback
page needs a part of a higher app (the AI practice card on the dashboard, the live coaching panel,
the auto-scorer's prediction on the result page...), the page names a *slot* and the higher app
registers a *panel* for it in its ``AppConfig.ready()``::

    panel_register(slot="feedback.result", name="scoring.prediction",
                   template="models_ml/_prediction_panel.html", order=10)

The page renders every panel of the slot with the tag of roleplay's ``panels`` library::

    {% load panels %}{% panels "feedback.result" session=session %}

A panel's template is rendered like an ``{% include %}``: with the page's context plus the tag's
keyword arguments plus what the panel's ``context`` function returns. That function gets the page's
``Context`` and the keyword arguments; returning ``None`` hides the panel on this page. A slot with
no panel renders nothing, so a lower app works with the higher one uninstalled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.template import Context
from django.utils.safestring import SafeString, mark_safe

# Every slot, where it is and what its tag passes. A typo in a page or a registration is an error.
SLOTS: dict[str, str] = {
    "roleplay.dashboard": "dashboard, right column, above the open time slots",
    "roleplay.session_scripts": "every session page, end of the scripts block (session, role)",
    "roleplay.session_client_header": "client's phone view, header next to the countdown (session, role)",
    "roleplay.session_counselor_side": "counselor's desktop view, side column under End session (session)",
    "roleplay.history_actions": "history, each row, after the Transcript link of an ended session (session, card)",
    "feedback.result": "counselor's result page, under the client's feedback (session)",
    "feedback.progress": "counselor's progress page, after the charts of the client ratings",
    "feedback.form_intro": "client's feedback form, under its introduction (session)",
    "practice.review": "the AI practice review page of models_ml/practice, under its header (session)",
}

PanelContext = Callable[..., dict[str, Any] | None]
ERR_UNKNOWN_SLOT = "unknown panel slot %r (one of: %s)"


@dataclass(frozen=True)
class Panel:
    slot: str
    name: str
    template: str
    context: PanelContext | None = None
    order: int = 100


_PANELS: dict[str, dict[str, Panel]] = {slot: {} for slot in SLOTS}


def _check_slot(slot: str) -> None:
    if slot not in SLOTS:
        raise ValueError(ERR_UNKNOWN_SLOT % (slot, ", ".join(SLOTS)))


def panel_register(
    *, slot: str, name: str, template: str, context: PanelContext | None = None, order: int = 100
) -> Panel:
    """Add a panel to ``slot`` (registering ``name`` again replaces it); lower ``order`` renders first."""
    _check_slot(slot)
    panel = Panel(slot=slot, name=name, template=template, context=context, order=order)
    _PANELS[slot][name] = panel
    return panel


def panel_unregister(*, slot: str, name: str) -> None:
    _check_slot(slot)
    _PANELS[slot].pop(name, None)


def panels_for(*, slot: str) -> list[Panel]:
    _check_slot(slot)
    return sorted(_PANELS[slot].values(), key=lambda p: (p.order, p.name))


def panels_render(*, slot: str, context: Context, **kwargs: Any) -> SafeString:
    """The HTML of every panel of ``slot`` for the page being rendered with ``context``."""
    parts = []
    for panel in panels_for(slot=slot):
        values = dict(kwargs)
        if panel.context is not None:
            extra = panel.context(context, **kwargs)
            if extra is None:
                continue
            values.update(extra)
        template = context.template.engine.get_template(panel.template)
        with context.push(values):
            parts.append(template.render(context))
    return mark_safe("".join(parts))
