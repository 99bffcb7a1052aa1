"""Template contexts shared by the views and the template tag."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from roleplay.models import Session

from . import selectors
from .signals_text import LONG_REPLY_CHARS, QUESTION_STREAK, SLOW_RESPONSE_S

HINTS = {
    "question_streak": _(
        "Several questions in a row. Try reflecting what the client said (“…that was hard for you, wasn't it”) "
        "and let them go on."
    ),
    "long_reply": _("That reply is very long. Shorter replies leave the client room to talk."),
    "slow_response": _("The client waited a long time for that reply. Quick, short acknowledgements help."),
    "silence": _("Long silence. A short acknowledgement or reflection can help the client go on."),
}

THRESHOLDS = {"question_streak": QUESTION_STREAK, "long_reply": LONG_REPLY_CHARS, "slow_response": SLOW_RESPONSE_S}


def live_panel_context(session: Session) -> dict:
    row = selectors.coaching_settings_for(session=session)
    state = row.state or {}
    return {
        "session": session,
        "coaching": row,
        "state": state,
        "hints": [{"code": c, "text": HINTS[c]} for c in state.get("hints", []) if c in HINTS],
        "hint_texts": {c: str(t) for c, t in HINTS.items()},
        "silence_s": SLOW_RESPONSE_S,  # the client-side silence hint uses the derived response-time threshold
    }
