"""Backends of the registry: "cpu" (this package) and "llm" (models_ml.llm, when it provides one)."""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .artifacts import load_model
from .base import ERR_NO_MODEL, ScorePrediction, Scorer, ScorerError, register_backend
from .records import LabelledDialogue

if TYPE_CHECKING:  # sklearn is imported only when a model is used, not at app start-up
    from .cpu import CpuModel

ERR_LLM_UNAVAILABLE = _("The LLM scorer backend is not available yet.")

_cache: dict[tuple[str, str, float], CpuModel] = {}
_lock = threading.Lock()


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


def load_cpu_scorer() -> CpuScorer:
    """The active "cpu" model, loaded once per process (the checksum is verified on every load;
    a changed file — new mtime — is loaded and verified again)."""
    from models_ml.selectors import active_scorer_model

    row = active_scorer_model(backend="cpu")
    if row is None:
        raise ScorerError(ERR_NO_MODEL)
    path = model_path(row.path)
    mtime = path.stat().st_mtime if path.is_file() else -1.0
    key = (row.version, row.sha256, mtime)
    with _lock:
        model = _cache.get(key)
        if model is None:
            model = load_model(path, sha256=row.sha256)
            _cache.clear()
            _cache[key] = model
    return CpuScorer(model, row.version)


def load_llm_scorer() -> Scorer:
    """Plug point for helper F: ``models_ml.llm.scorer.load_scorer()`` returning a Scorer."""
    try:
        module = importlib.import_module("models_ml.llm.scorer")
    except ImportError:
        raise ScorerError(ERR_LLM_UNAVAILABLE) from None
    return module.load_scorer()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


register_backend("cpu", load_cpu_scorer)
register_backend("llm", load_llm_scorer)
