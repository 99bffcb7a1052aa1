"""Model versions: the generation models (hf adapters, openai endpoints, retrieval indexes) to choose from."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from ..models import (
    Backend,
    FineTuneJob,
    ModelKind,
    ModelVersion,
)
from .common import (
    ERR_MV_BACKEND,
    ERR_MV_CONFIG,
    ERR_MV_KIND,
    ERR_MV_SECRET,
    PartnersError,
)

logger = logging.getLogger(__name__)


# --- model versions --------------------------------------------------------------------------------

_REQUIRED_CONFIG = {
    Backend.HF: ("base_model",),
    Backend.OPENAI: ("base_url", "model"),
    Backend.RETRIEVAL: ("index_path",),
}


def _validate_model_config(backend: str, config: Any) -> dict:
    if backend not in Backend.values:
        raise PartnersError(message=ERR_MV_BACKEND)
    if not isinstance(config, dict):
        raise PartnersError(message=ERR_MV_CONFIG % {"backend": backend, "needed": "a JSON object"})
    if "api_key" in config:
        raise PartnersError(message=ERR_MV_SECRET)
    needed = [k for k in _REQUIRED_CONFIG[backend] if not isinstance(config.get(k), str) or not config[k].strip()]
    if needed:
        raise PartnersError(message=ERR_MV_CONFIG % {"backend": backend, "needed": ", ".join(needed)})
    return dict(config)


@transaction.atomic
def model_version_create(
    *,
    name: str,
    kind: str,
    backend: str,
    config: dict,
    metrics: dict | None = None,
    source_job: FineTuneJob | None = None,
    is_active: bool = False,
) -> ModelVersion:
    if kind not in ModelKind.values:
        raise PartnersError(message=ERR_MV_KIND)
    config = _validate_model_config(backend, config)
    return ModelVersion.objects.create(
        name=name[:120],
        kind=kind,
        backend=backend,
        config=config,
        metrics=metrics or {},
        source_job=source_job,
        is_active=is_active,
    )


@transaction.atomic
def model_version_set_active(*, version: ModelVersion, active: bool) -> ModelVersion:
    version.is_active = active
    version.save(update_fields=["is_active"])
    return version


__all__ = [
    "model_version_create",
    "model_version_set_active",
]
