"""Any OpenAI-compatible Chat Completions endpoint (vLLM, llama.cpp server, Ollama, OpenAI) via ``openai``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .base import (
    ERR_ENDPOINT_STATUS,
    ERR_ENDPOINT_UNREACHABLE,
    ERR_GENERATION_FAILED,
    ERR_REMOTE_MODEL_NOT_FOUND,
    ERR_TIMEOUT,
    EndpointUnreachableError,
    GenerationBackend,
    GenerationError,
    GenerationTimeoutError,
    ModelNotFoundError,
)

CHAT_PARAMS = frozenset({"temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty"})


def _http_module():
    """The HTTP library the installed openai client is built on (openai 3.x: httpx2; 1.x/2.x: httpx)."""
    try:
        import httpx2

        return httpx2
    except ImportError:  # pragma: no cover - older openai
        import httpx

        return httpx


class OpenAIBackend(GenerationBackend):
    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 0,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        import openai

        self.base_url = base_url
        self.model = model
        self.timeout = timeout
        self.defaults = dict(defaults or {})
        # Local servers accept any key; the client insists on one being set.
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=max_retries
        )

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        import openai

        httpx = _http_module()
        self._check_messages(messages)
        params = {**self.defaults, **params}
        if "max_new_tokens" in params and "max_tokens" not in params:
            params["max_tokens"] = params["max_new_tokens"]
        kwargs = {k: v for k, v in params.items() if k in CHAT_PARAMS}
        try:
            response = self._client.chat.completions.create(model=self.model, messages=messages, stream=True, **kwargs)
            for chunk in response:
                for choice in chunk.choices or ():
                    delta = choice.delta.content if choice.delta else None
                    if delta:
                        yield delta
        except openai.APITimeoutError:  # subclass of APIConnectionError: check first
            raise GenerationTimeoutError(ERR_TIMEOUT.format(seconds=self.timeout)) from None
        except openai.APIConnectionError:
            raise EndpointUnreachableError(ERR_ENDPOINT_UNREACHABLE.format(url=self.base_url)) from None
        except openai.NotFoundError:
            raise ModelNotFoundError(ERR_REMOTE_MODEL_NOT_FOUND.format(url=self.base_url, model=self.model)) from None
        except openai.APIStatusError as exc:
            raise GenerationError(ERR_ENDPOINT_STATUS.format(status=exc.status_code, detail=exc.message)) from None
        except httpx.TimeoutException:  # a read timeout while iterating the stream is not wrapped by openai
            raise GenerationTimeoutError(ERR_TIMEOUT.format(seconds=self.timeout)) from None
        except httpx.TransportError:
            raise EndpointUnreachableError(ERR_ENDPOINT_UNREACHABLE.format(url=self.base_url)) from None
        except openai.OpenAIError as exc:
            raise GenerationError(ERR_GENERATION_FAILED.format(detail=exc)) from None
