"""A sliding-window rate limit by key, shared across processes through Redis when configured
(``REDIS_URL``), in-process otherwise (embedded mode)."""

from __future__ import annotations

import threading
import time
from functools import lru_cache

from django.conf import settings

_lock = threading.Lock()
_windows: dict[str, list[float]] = {}


@lru_cache(maxsize=4)
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url)


def _prefix() -> str:
    config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    return f"{config.get('prefix', 'kokoro')}:rate:"


def rate_allow(*, key: str, limit: int, window_s: int) -> bool:
    """Count one event for ``key``; False (and not counted) when ``limit`` are already in the window."""
    now = time.time()
    if settings.REDIS_URL:
        name = f"{_prefix()}{key}"
        member = f"{now:.6f}-{threading.get_ident()}-{time.monotonic_ns()}"
        pipe = _redis(settings.REDIS_URL).pipeline(transaction=True)
        pipe.zremrangebyscore(name, 0, now - window_s)
        pipe.zadd(name, {member: now})
        pipe.zcard(name)
        pipe.expire(name, window_s + 1)
        if pipe.execute()[2] > limit:
            _redis(settings.REDIS_URL).zrem(name, member)
            return False
        return True
    with _lock:
        stamps = [t for t in _windows.get(key, []) if t > now - window_s]
        allowed = len(stamps) < limit
        if allowed:
            stamps.append(now)
        _windows[key] = stamps
        return allowed


def rate_reset(prefix: str = "") -> None:
    """Forget the windows whose key starts with ``prefix`` (tests)."""
    if settings.REDIS_URL:
        client = _redis(settings.REDIS_URL)
        keys = list(client.scan_iter(match=f"{_prefix()}{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    with _lock:
        for key in [k for k in _windows if k.startswith(prefix)]:
            del _windows[key]
