"""Versioned model files: <KOKORO_ARTIFACTS_DIR>/scorer/<version>/{model.joblib,manifest.json}."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import joblib
from django.conf import settings
from django.utils import timezone

from .base import ERR_MODEL_CHECKSUM, ERR_MODEL_FILE_MISSING, ERR_MODEL_UNREADABLE, ScorerError

MODEL_FILENAME = "model.joblib"
MANIFEST_FILENAME = "manifest.json"


def scorer_dir() -> Path:
    return Path(settings.KOKORO_ARTIFACTS_DIR) / "scorer"


def new_version(backend: str) -> str:
    return f"{backend}-{timezone.now():%Y%m%d-%H%M%S-%f}"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(model, *, version: str, manifest: dict) -> tuple[Path, str]:
    """Write the model and its manifest; returns (model path, sha256)."""
    folder = scorer_dir() / version
    folder.mkdir(parents=True, exist_ok=False)
    path = folder / MODEL_FILENAME
    joblib.dump(model, path, compress=3)
    digest = sha256_of(path)
    full = {**manifest, "version": version, "model_file": MODEL_FILENAME, "sha256": digest}
    (folder / MANIFEST_FILENAME).write_text(json.dumps(full, ensure_ascii=False, indent=2), encoding="utf-8")
    return path, digest


def load_model(path: str | Path, *, sha256: str):
    """Load a model file after checking its checksum; ScorerError with a clear message otherwise."""
    p = Path(path)
    if not p.is_file():
        raise ScorerError(message=ERR_MODEL_FILE_MISSING % {"path": p})
    if sha256_of(p) != sha256:
        raise ScorerError(message=ERR_MODEL_CHECKSUM % {"path": p})
    try:
        return joblib.load(p)
    except Exception as exc:  # a file with the right checksum that still does not unpickle
        raise ScorerError(message=ERR_MODEL_UNREADABLE % {"path": p}) from exc
