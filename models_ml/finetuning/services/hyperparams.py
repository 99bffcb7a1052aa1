"""Hyper-parameters of a fine-tuning job: the paper defaults and the validation of a submitted JSON."""

from __future__ import annotations

import logging
import math
import re
import types
import typing
from pathlib import Path
from typing import Any

from django.utils.translation import gettext_lazy as _

from models_ml.llm.config import TASKS, JobConfig, QLoRAConfig, TrainingConfig

from .common import (
    ERR_BASE_MODEL,
    ERR_BASE_MODEL_LONG,
    ERR_BASE_MODEL_NO_CONFIG,
    ERR_BASE_MODEL_NO_FOLDER,
    ERR_BASE_MODEL_NOT_CACHED,
    ERR_HP_INVALID,
    ERR_HP_NOT_OBJECT,
    ERR_HP_RANGE,
    ERR_HP_SECTION,
    ERR_HP_TYPE,
    ERR_HP_UNKNOWN,
    ERR_MAX_STEPS,
    ERR_SYSTEM_PROMPT,
    ERR_TARGET_ROLE,
    ERR_TASK,
    MAX_BASE_MODEL_CHARS,
    MAX_SYSTEM_PROMPT_CHARS,
    PartnersError,
)

logger = logging.getLogger(__name__)


# --- hyper-parameters ------------------------------------------------------------------------------

_HP_TOP_KEYS = {"base_model", "task", "qlora", "training", "target_role", "system_prompt"}
_HP_SECTIONS: dict[str, type] = {"qlora": QLoRAConfig, "training": TrainingConfig}
# Range checks the core does not make (it checks the others and raises ValueError).
_RANGES: dict[str, tuple[Any, typing.Callable[[Any], bool]]] = {
    "training.num_train_epochs": (_("must be greater than 0"), lambda v: v > 0),
    "training.warmup_steps": (_("must be 0 or more"), lambda v: v >= 0),
    "training.logging_steps": (_("must be at least 1"), lambda v: v >= 1),
    "training.gradient_accumulation_steps": (_("must be at least 1"), lambda v: v >= 1),
    "training.per_device_eval_batch_size": (_("must be at least 1"), lambda v: v >= 1),
    "training.save_total_limit": (_("must be at least 1"), lambda v: v >= 1),
    "training.learning_rate": (_("must be between 0 and 1"), lambda v: 0 < v < 1),
    "qlora.lora_r": (_("must be between 1 and 1024"), lambda v: 1 <= v <= 1024),
}
_TYPE_NAMES = {bool: "true/false", int: "a whole number", float: "a number", str: "text"}


def default_hyperparameters(task: str, base_model: str = "") -> dict[str, Any]:
    """Paper defaults (KokoroChat Appendix D) for the form: everything but base_model."""
    data = JobConfig(base_model=base_model or "-", task=task).to_dict()
    data.pop("base_model")
    data.pop("task")
    data["training"].pop("task")
    data["training"].pop("max_steps")
    return data


def _type_ok(hint: Any, value: Any) -> bool:
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str) and "\x00" not in value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return isinstance(value, list) and all(_type_ok(args[0], v) for v in value)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(a, value) for a in args)
    return False


def _type_name(hint: Any) -> str:
    if hint in _TYPE_NAMES:
        return _TYPE_NAMES[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return "a list of " + _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _type_name(a) for a in args)
    return str(hint)


def _got(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def validate_hyperparameters(*, task: str, base_model: str, hyperparameters: Any, max_steps: int | None) -> dict:
    """Check types and ranges and build the JobConfig; returns ``JobConfig.to_dict()`` (stored on the job and
    passed to ``train``). Raises PartnersError with one clear message."""
    if task not in TASKS:
        raise PartnersError(message=ERR_TASK)
    if not isinstance(hyperparameters, dict):
        raise PartnersError(message=ERR_HP_NOT_OBJECT)
    unknown = sorted(set(hyperparameters) - _HP_TOP_KEYS)
    if unknown:
        raise PartnersError(message=ERR_HP_UNKNOWN % {"names": ", ".join(unknown)})
    sections: dict[str, dict] = {}
    for section, cls in _HP_SECTIONS.items():
        values = hyperparameters.get(section)
        values = {} if values is None else values
        if not isinstance(values, dict):
            raise PartnersError(message=ERR_HP_SECTION % {"section": section})
        hints = typing.get_type_hints(cls)
        bad = sorted(f"{section}.{k}" for k in values if k not in hints)
        if bad:
            raise PartnersError(message=ERR_HP_UNKNOWN % {"names": ", ".join(bad)})
        for name, value in values.items():
            if not _type_ok(hints[name], value):
                raise PartnersError(
                    message=ERR_HP_TYPE
                    % {"name": f"{section}.{name}", "expected": _type_name(hints[name]), "got": _got(value)}
                )
            check = _RANGES.get(f"{section}.{name}")
            if check and not check[1](value):
                raise PartnersError(message=ERR_HP_RANGE % {"name": f"{section}.{name}", "reason": check[0]})
        sections[section] = dict(values)
    target_role = hyperparameters.get("target_role", "counselor")
    if target_role not in ("counselor", "client"):
        raise PartnersError(message=ERR_TARGET_ROLE)
    system_prompt = hyperparameters.get("system_prompt")
    if system_prompt is not None and (
        not isinstance(system_prompt, str) or len(system_prompt) > MAX_SYSTEM_PROMPT_CHARS or "\x00" in system_prompt
    ):
        raise PartnersError(message=ERR_SYSTEM_PROMPT % {"max": MAX_SYSTEM_PROMPT_CHARS})
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise PartnersError(message=ERR_MAX_STEPS)
    training = sections["training"]
    training.pop("task", None)
    training["max_steps"] = max_steps or -1
    try:
        cfg = JobConfig.from_dict(
            {
                "base_model": base_model,
                "task": task,
                "qlora": sections["qlora"],
                "training": training,
                "target_role": target_role,
                "system_prompt": system_prompt or None,
            }
        )
    except (ValueError, TypeError) as exc:
        raise PartnersError(message=ERR_HP_INVALID % {"detail": exc}) from None
    return cfg.to_dict()


def _clean_base_model(base_model: Any) -> str:
    if not isinstance(base_model, str) or not base_model.strip():
        raise PartnersError(message=ERR_BASE_MODEL)
    base_model = base_model.strip()
    if len(base_model) > MAX_BASE_MODEL_CHARS:
        raise PartnersError(message=ERR_BASE_MODEL_LONG % {"max": MAX_BASE_MODEL_CHARS})
    if any(ord(c) < 32 for c in base_model):
        raise PartnersError(message=ERR_BASE_MODEL)
    return base_model


# A Hugging Face model id ("org/name" or "name"), as opposed to a path.
_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def base_model_problem(base_model: str) -> str | None:
    """Why ``base_model`` cannot be loaded on this server (None when it can): a local folder must exist and hold
    a config.json; a model id must already be in the Hugging Face cache (no download is possible here)."""
    value = base_model.strip()
    path = Path(value).expanduser()
    looks_like_path = value.startswith(("/", ".", "~")) or "\\" in value or value.count("/") > 1
    if path.is_dir():
        return None if (path / "config.json").is_file() else str(ERR_BASE_MODEL_NO_CONFIG % {"path": value})
    if looks_like_path or not _HF_ID.match(value):
        return str(ERR_BASE_MODEL_NO_FOLDER % {"path": value})
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(value, "config.json"), str):
        return None
    return str(ERR_BASE_MODEL_NOT_CACHED % {"name": value})


__all__ = [
    "base_model_problem",
    "default_hyperparameters",
    "validate_hyperparameters",
]
