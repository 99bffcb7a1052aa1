"""The one base error of the platform's services.

Every service refuses with a subclass of :class:`ServiceError`: ``code`` is stable (views map it
to an HTTP status, consumers send it in error frames, tests compare it) and ``message`` is the
text a person reads (a lazy translation, rendered in the active language when shown).
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _

# Shown when a write failed on the server side (database down, ...): the chat's error frames and the
# socket guard of kokoro_site.middleware say the same.
ERR_SERVER = _("The message could not be saved. Please send it again.")


class ServiceError(Exception):
    """A refused action: ``code`` for programs, ``message`` for people."""

    default_code = "invalid"

    def __init__(self, code: str | None = None, message: Any = "") -> None:
        self.code = code or self.default_code
        self.message = message
        super().__init__(str(message))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={str(self.message)!r})"
