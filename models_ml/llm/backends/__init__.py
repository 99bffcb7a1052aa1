"""Generation backends with one interface: ``stream(messages, **params)`` yields text deltas and
``generate(messages, **params)`` returns the whole reply. ``messages`` are chat messages
(``{"role": "system" | "user" | "assistant", "content": str}``)."""

from __future__ import annotations

from typing import Any

from .base import (
    ERR_ADAPTER_NOT_FOUND,
    ERR_BACKEND_CONFIG,
    ERR_ENDPOINT_STATUS,
    ERR_ENDPOINT_UNREACHABLE,
    ERR_GENERATION_FAILED,
    ERR_INDEX_NOT_FOUND,
    ERR_MODEL_NOT_FOUND,
    ERR_REMOTE_MODEL_NOT_FOUND,
    ERR_TIMEOUT,
    ERR_UNKNOWN_BACKEND,
    BackendConfigError,
    EndpointUnreachableError,
    GenerationBackend,
    GenerationError,
    GenerationTimeoutError,
    ModelNotFoundError,
)

BACKEND_HF = "hf"
BACKEND_OPENAI = "openai"
BACKEND_RETRIEVAL = "retrieval"
BACKENDS = (BACKEND_HF, BACKEND_OPENAI, BACKEND_RETRIEVAL)
DEFAULT_BACKEND = BACKEND_RETRIEVAL

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "ERR_ADAPTER_NOT_FOUND",
    "ERR_BACKEND_CONFIG",
    "ERR_ENDPOINT_STATUS",
    "ERR_ENDPOINT_UNREACHABLE",
    "ERR_GENERATION_FAILED",
    "ERR_INDEX_NOT_FOUND",
    "ERR_MODEL_NOT_FOUND",
    "ERR_REMOTE_MODEL_NOT_FOUND",
    "ERR_TIMEOUT",
    "ERR_UNKNOWN_BACKEND",
    "BackendConfigError",
    "EndpointUnreachableError",
    "GenerationBackend",
    "GenerationError",
    "GenerationTimeoutError",
    "ModelNotFoundError",
    "get_backend",
]


def get_backend(config: dict[str, Any] | None = None) -> GenerationBackend:
    """Build a backend from a plain dict (e.g. settings): ``{"backend": "hf" | "openai" | "retrieval", ...}``;
    the remaining keys are the backend's constructor arguments. Nothing configured = ``retrieval``."""
    config = dict(config or {})
    kind = config.pop("backend", None) or DEFAULT_BACKEND
    if kind == BACKEND_HF:
        from .hf import HFBackend

        return HFBackend(**config)
    if kind == BACKEND_OPENAI:
        from .openai_backend import OpenAIBackend

        return OpenAIBackend(**config)
    if kind == BACKEND_RETRIEVAL:
        from .retrieval import RetrievalBackend

        if "index_path" in config:
            return RetrievalBackend.load(config.pop("index_path"), **config)
        if "records" in config:
            return RetrievalBackend.from_records(config.pop("records"), **config)
        raise BackendConfigError(ERR_BACKEND_CONFIG.format(backend=kind, needed="index_path or records"))
    raise BackendConfigError(ERR_UNKNOWN_BACKEND.format(backend=kind, known=", ".join(BACKENDS)))
