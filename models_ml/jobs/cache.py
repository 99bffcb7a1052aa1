"""One per-process model cache for every ML app (practice, arena, coaching, the LLM scorer, the CPU scorer).

A model is loaded once per worker process whichever app asks for it: the key is the backend configuration
(or a caller's key), loading happens under a per-key lock (two threads asking at once load it once), and the
least recently used entries are dropped when the estimated memory of the cached models exceeds the budget
(``KOKORO_MODEL_CACHE_GB``). The entry just loaded is always kept, even when it alone exceeds the budget.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
GIB = 1024**3


def estimate_bytes(value: Any) -> int:
    """A model's memory: its own ``memory_bytes()`` when it has one (hf: parameters and buffers; retrieval:
    the index arrays), else a shallow ``sys.getsizeof`` (endpoints and small objects)."""
    measure = getattr(value, "memory_bytes", None)
    if callable(measure):
        try:
            return max(0, int(measure()))
        except Exception:  # an estimate must never make a load fail
            logger.exception("model cache: could not measure %r", type(value).__name__)
    return sys.getsizeof(value)


def config_key(config: dict[str, Any]) -> str:
    """A stable key for a backend configuration (secrets included in the hash, never in the key's text)."""
    text = json.dumps(config, sort_keys=True, default=str, ensure_ascii=False)
    backend = str(config.get("backend", "?"))
    return f"{backend}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]}"


@dataclass
class _Entry:
    value: Any


class ModelCache:
    """An LRU cache bounded by the estimated memory of its values."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = int(budget_bytes)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self.loads = 0  # how many times a loader ran (tests, metrics)

    def get(self, key: str, loader: Callable[[], T]) -> T:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self._evict(keep=key)  # a lazily loaded model (hf) grows after it was cached
                return entry.value
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:  # loaded by another thread while this one waited
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    return entry.value
            value = loader()
            with self._lock:
                self.loads += 1
                self._entries[key] = _Entry(value)
                self._entries.move_to_end(key)
                self._evict(keep=key)
                self._key_locks.pop(key, None)
            return value

    def _evict(self, *, keep: str) -> None:
        while self.total_bytes > self.budget_bytes and len(self._entries) > 1:
            oldest = next(iter(self._entries))
            if oldest == keep:
                break
            dropped = self._entries.pop(oldest)
            logger.info("model cache: dropped %s (%.1f MB)", oldest, estimate_bytes(dropped.value) / 1e6)

    @property
    def total_bytes(self) -> int:
        """Measured now: a lazily loaded model counts once it is loaded."""
        return sum(estimate_bytes(e.value) for e in self._entries.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._entries)

    def discard(self, *, prefix: str = "") -> None:
        """Forget every entry (or those whose key starts with ``prefix``)."""
        with self._lock:
            for key in [k for k in self._entries if k.startswith(prefix)]:
                del self._entries[key]

    def clear(self) -> None:
        self.discard()


_cache: ModelCache | None = None
_cache_lock = threading.Lock()


def model_cache() -> ModelCache:
    """The process's cache (budget from ``settings.KOKORO_MODEL_CACHE_GB``)."""
    global _cache
    with _cache_lock:
        if _cache is None:
            from django.conf import settings

            _cache = ModelCache(int(float(settings.KOKORO_MODEL_CACHE_GB) * GIB))
        return _cache


def cached_backend(config: dict[str, Any], *, key: str | None = None):
    """``models_ml.llm.backends.get_backend(config)``, once per process and configuration."""
    from models_ml.llm.backends import get_backend

    return model_cache().get(key or config_key(config), lambda: get_backend(config))
