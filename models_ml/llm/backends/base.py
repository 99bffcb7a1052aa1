from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any

ERR_MODEL_NOT_FOUND = "The model directory {path} does not exist or holds no model (config.json missing)."
ERR_ADAPTER_NOT_FOUND = (
    "The LoRA adapter directory {path} does not exist or holds no adapter (adapter_config.json missing)."
)
ERR_REMOTE_MODEL_NOT_FOUND = "The endpoint {url} does not serve the model {model!r}."
ERR_INDEX_NOT_FOUND = "The retrieval index {path} does not exist."
ERR_ENDPOINT_UNREACHABLE = "The generation endpoint {url} cannot be reached."
ERR_TIMEOUT = "The generation backend did not answer within {seconds} seconds."
ERR_ENDPOINT_STATUS = "The generation endpoint answered with HTTP {status}: {detail}"
ERR_GENERATION_FAILED = "Generation failed: {detail}"
ERR_UNKNOWN_BACKEND = "Unknown generation backend {backend!r}; expected one of {known}."
ERR_BACKEND_CONFIG = "The {backend} backend needs {needed}."
ERR_NO_MESSAGES = "At least one message is needed to generate a reply."


class GenerationError(RuntimeError):
    """Base class of every generation failure; ``str(exc)`` is a user-presentable message."""


class ModelNotFoundError(GenerationError):
    pass


class EndpointUnreachableError(GenerationError):
    pass


class GenerationTimeoutError(GenerationError):
    pass


class BackendConfigError(GenerationError):
    pass


class GenerationBackend(ABC):
    name: str = "base"

    @abstractmethod
    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        """Yield the reply as text deltas."""

    def generate(self, messages: list[dict[str, str]], **params: Any) -> str:
        return "".join(self.stream(messages, **params))

    @staticmethod
    def _check_messages(messages: list[dict[str, str]]) -> None:
        if not messages:
            raise GenerationError(ERR_NO_MESSAGES)
