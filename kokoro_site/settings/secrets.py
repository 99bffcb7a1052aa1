"""Secrets named at run time (the one place outside the settings modules that reads the environment).

A model version's config names the variable that holds its API key (``api_key_env``), so the key
is never stored in the database; it is looked up here, in the environment first, then in settings
(``KOKORO_OPENAI_API_KEY`` is declared in ``base.py``).
"""

from __future__ import annotations

import os


def secret(name: str) -> str | None:
    """The value of the environment variable (or setting) ``name``; None when unset or empty."""
    from django.conf import settings

    return os.environ.get(name) or getattr(settings, name, None) or None
