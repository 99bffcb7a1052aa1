"""Only roleplay writes sessions and messages: no ML app creates a Session or Message row, numbers a
message, or changes a session's status itself (they call roleplay.services)."""

import re
from pathlib import Path

import models_ml

ML_DIR = Path(models_ml.__file__).parent
FORBIDDEN = [
    r"\bSession\.objects\.(create|bulk_create|get_or_create|update_or_create)\(",
    r"\bMessage\.objects\.(create|bulk_create|get_or_create|update_or_create)\(",
    r"\bSession\.objects\.[^\n]*\.update\(",
    r"\bMessage\(\s*session",
    r"last_seq\s*\+=",
    r"\.status\s*=\s*SessionStatus\.",
]


def test_no_ml_app_writes_roleplay_sessions_or_messages_directly():
    offenders = []
    for path in ML_DIR.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in FORBIDDEN:
            for match in re.finditer(pattern, text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ML_DIR)}:{line}: {match.group(0)}")
    assert offenders == []
