"""Per-socket frame limits of the chat socket (docs/protocol.md, "Limits").

Every frame type is limited on each socket, on top of the per-user limit on stored messages
(``KOKORO_CHAT_RATE_LIMIT``, counted in the database, so shared by every process):

* any frame: ``KOKORO_CHAT_FRAME_LIMIT`` per ``KOKORO_CHAT_RATE_WINDOW_S``; beyond it a
  ``message`` or ``sync`` gets a ``rate_limited`` error and other frames are dropped;
* ``message`` frames, new ones and resends of a stored ``client_msg_id`` alike:
  ``2 × KOKORO_CHAT_RATE_LIMIT`` per window (room for one full window of resends);
* ``sync``: ``KOKORO_CHAT_SYNC_LIMIT`` per window;
* ``typing``: forwarded at most once per ``KOKORO_CHAT_TYPING_INTERVAL_S``; the latest state
  of a dropped burst is forwarded at the end of the interval, so "stopped typing" is never lost.
"""

from __future__ import annotations

import time
from collections import deque

from django.conf import settings


class SlidingWindow:
    """At most ``limit`` events in any ``window_s`` seconds (monotonic clock)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def allow(self) -> bool:
        now = time.monotonic()
        while self._times and now - self._times[0] >= self.window_s:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


class SocketThrottle:
    """The limits of one socket, read from settings when it connects."""

    def __init__(self) -> None:
        window = float(settings.KOKORO_CHAT_RATE_WINDOW_S)
        self.any = SlidingWindow(settings.KOKORO_CHAT_FRAME_LIMIT, window)
        self.kinds = {
            "message": SlidingWindow(2 * settings.KOKORO_CHAT_RATE_LIMIT, window),
            "sync": SlidingWindow(settings.KOKORO_CHAT_SYNC_LIMIT, window),
        }
        self.typing_interval_s = float(settings.KOKORO_CHAT_TYPING_INTERVAL_S)
        self._typing_at = -self.typing_interval_s

    def allow(self, kind: str) -> bool:
        """False when the frame is over one of its limits (counts it otherwise)."""
        if not self.any.allow():
            return False
        window = self.kinds.get(kind)
        return window is None or window.allow()

    def typing_delay(self) -> float:
        """0 when a typing frame may be forwarded now (and counts it), else the seconds to wait."""
        now = time.monotonic()
        wait = self._typing_at + self.typing_interval_s - now
        if wait <= 0:
            self._typing_at = now
            return 0.0
        return wait

    def typing_sent(self) -> None:
        self._typing_at = time.monotonic()
