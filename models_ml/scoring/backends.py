"""Backends of the registry: "cpu" (cpu.py, trained by train_scorer) and "llm" (llm_scorer.py, a generation model)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from models_ml.jobs.cache import model_cache

from .artifacts import load_model
from .base import (
    CODE_NO_MODEL,
    ERR_NO_LANGUAGE_MODEL,
    ERR_NO_MODEL,
    ORIGINAL_LANGUAGE,
    ScorePrediction,
    Scorer,
    ScorerError,
    register_backend,
)
from .records import LabelledDialogue

if TYPE_CHECKING:  # sklearn is imported only when a model is used, not at app start-up
    from .cpu import CpuModel

ERR_LLM_UNAVAILABLE = _("The LLM scorer backend is not available yet.")

CACHE_PREFIX = "cpu-scorer:"


class CpuScorer:
    name = "cpu"

    def __init__(self, model: CpuModel, version: str) -> None:
        self.model = model
        self.model_version = version

    def predict(self, dialogue: LabelledDialogue) -> ScorePrediction:
        out = self.model.predict([dialogue])[0]
        return ScorePrediction(
            items=out["items"],
            total=out["total"],
            screening=out["screening"],
            flags=out["flags"],
            model_version=self.model_version,
        )


def model_path(relative: str) -> Path:
    return Path(settings.KOKORO_ARTIFACTS_DIR) / relative


def load_cpu_scorer(*, language: str = ORIGINAL_LANGUAGE) -> CpuScorer:
    """The active "cpu" model of ``language``, loaded once per process (the checksum is verified
    on every load; a changed file — new mtime — is loaded and verified again)."""
    from models_ml.scoring.selectors import active_scorer_model

    row = active_scorer_model(backend="cpu", language=language)
    if row is None and language != ORIGINAL_LANGUAGE:
        raise ScorerError(CODE_NO_MODEL, ERR_NO_LANGUAGE_MODEL % {"language": language})
    if row is None:
        raise ScorerError(CODE_NO_MODEL, ERR_NO_MODEL)
    path = model_path(row.path)
    mtime = path.stat().st_mtime if path.is_file() else -1.0
    prefix = f"{CACHE_PREFIX}{language}:"
    key = f"{prefix}{row.version}:{row.sha256}:{mtime}"
    cache = model_cache()  # the process's one model cache (shared with every ML app)
    if key not in cache.keys():
        cache.discard(prefix=prefix)  # one CPU scorer per process and language: the active one
    model = cache.get(key, lambda: load_model(path, sha256=row.sha256))
    return CpuScorer(model, row.version)


def load_llm_scorer(*, language: str = ORIGINAL_LANGUAGE) -> Scorer:
    """The "llm" backend: ``models_ml.scoring.llm_scorer.load_scorer()`` (imported on first use;
    Japanese only: a session in another language needs the cpu model of its language)."""
    if language != ORIGINAL_LANGUAGE:
        raise ScorerError(CODE_NO_MODEL, ERR_NO_LANGUAGE_MODEL % {"language": language})
    try:
        module = importlib.import_module("models_ml.scoring.llm_scorer")
    except ImportError:
        raise ScorerError(CODE_NO_MODEL, ERR_LLM_UNAVAILABLE) from None
    return module.load_scorer()


def clear_cache() -> None:
    model_cache().discard(prefix=CACHE_PREFIX)


register_backend("cpu", load_cpu_scorer)
register_backend("llm", load_llm_scorer)
