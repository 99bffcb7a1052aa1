"""transformers backend: base model (+ optional PEFT adapter), 4-bit on CUDA, unquantised on CPU, streamed
with a TextIteratorStreamer fed by ``generate`` in a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

from .base import (
    ERR_ADAPTER_NOT_FOUND,
    ERR_GENERATION_FAILED,
    ERR_MODEL_NOT_FOUND,
    ERR_TIMEOUT,
    GenerationBackend,
    GenerationError,
    GenerationTimeoutError,
    ModelNotFoundError,
)

ERR_MERGE_4BIT = "merge_adapter needs an unquantised base model: set load_in_4bit to false (merging into 4-bit weights loses precision)"
DEFAULT_PARAMS: dict[str, Any] = {"max_new_tokens": 256, "do_sample": True, "temperature": 0.7, "top_p": 0.9}
GENERATE_KEYS = frozenset(
    {"max_new_tokens", "min_new_tokens", "do_sample", "temperature", "top_p", "top_k", "repetition_penalty", "seed"}
)


def _make_streamer(tokenizer, timeout: float | None):
    """A TextIteratorStreamer that flushes after every token. The stock one holds text back until a space or a
    CJK ideograph, i.e. for whole sentences of kana; here only an incomplete UTF-8 sequence is held back."""
    from transformers import TextIteratorStreamer

    class _TokenStreamer(TextIteratorStreamer):
        def put(self, value):
            if len(value.shape) > 1:
                value = value[0]
            if self.skip_prompt and self.next_tokens_are_prompt:
                self.next_tokens_are_prompt = False
                return
            self.token_cache.extend(value.tolist())
            text = self.tokenizer.decode(self.token_cache, **self.decode_kwargs)
            if text.endswith("\ufffd"):
                return
            delta = text[self.print_len :]
            self.print_len = len(text)
            if delta:
                self.on_finalized_text(delta)

    return _TokenStreamer(tokenizer, skip_prompt=True, timeout=timeout, skip_special_tokens=True)


class HFBackend(GenerationBackend):
    name = "hf"

    def __init__(
        self,
        base_model: str,
        adapter_path: str | None = None,
        *,
        load_in_4bit: bool | None = None,
        merge_adapter: bool = False,
        static_cache: bool = False,
        device: str | None = None,
        timeout: float = 120.0,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        if not (Path(base_model) / "config.json").is_file():
            raise ModelNotFoundError(ERR_MODEL_NOT_FOUND.format(path=base_model))
        if adapter_path is not None and not (Path(adapter_path) / "adapter_config.json").is_file():
            raise ModelNotFoundError(ERR_ADAPTER_NOT_FOUND.format(path=adapter_path))
        self.base_model = base_model
        self.adapter_path = adapter_path
        self.load_in_4bit = load_in_4bit
        # Serving speed (docs/benchmarks.md, GPU section): a bf16 base with the LoRA folded into its weights
        # runs one matrix product per projection instead of three; a static KV cache lets generate() compile
        # the decoding step (CUDA graphs), which removes the per-token launch overhead that bounds batch-1 decode.
        self.merge_adapter = merge_adapter
        self.static_cache = static_cache
        self.device = device
        self.timeout = timeout
        self.defaults = {**DEFAULT_PARAMS, **(defaults or {})}
        self._model = None
        self._tokenizer = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()  # one generation at a time per loaded model

    def load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            from ..config import QLoRAConfig, get_quantization_config

            cuda = torch.cuda.is_available()
            device = self.device or ("cuda" if cuda else "cpu")
            quantize = cuda if self.load_in_4bit is None else self.load_in_4bit
            tok_dir = self.adapter_path if self._has_tokenizer(self.adapter_path) else self.base_model
            tokenizer = AutoTokenizer.from_pretrained(tok_dir)
            kwargs: dict[str, Any] = {}
            if quantize:
                kwargs["quantization_config"] = get_quantization_config(QLoRAConfig())
                kwargs["device_map"] = {"": device}
                kwargs["dtype"] = torch.bfloat16
            model = AutoModelForCausalLM.from_pretrained(self.base_model, **kwargs)
            if not quantize:
                model.to(device)
            if self.adapter_path:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, self.adapter_path)
                if self.merge_adapter:
                    if quantize:
                        raise ValueError(ERR_MERGE_4BIT)
                    model = model.merge_and_unload()
            if self.static_cache:
                model.generation_config.cache_implementation = "static"
            model.eval()
            self._model, self._tokenizer = model, tokenizer

    def memory_bytes(self) -> int:
        """Parameters and buffers of the loaded model (0 before the first use loads it)."""
        model = self._model
        if model is None:
            return 0
        tensors = [*model.parameters(), *model.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    @staticmethod
    def _has_tokenizer(path: str | None) -> bool:
        return bool(path) and (Path(path) / "tokenizer_config.json").is_file()

    @property
    def model(self):
        self.load()
        return self._model

    @property
    def tokenizer(self):
        self.load()
        return self._tokenizer

    def encode(self, messages: list[dict[str, str]]) -> dict[str, Any]:
        """Chat-template the messages (with the assistant generation prompt) into model inputs on its device."""
        self.load()
        inputs = self._tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        return {k: v.to(self._model.device) for k, v in inputs.items()}

    def stream(self, messages: list[dict[str, str]], **params: Any) -> Iterator[str]:
        self._check_messages(messages)
        self.load()
        import torch

        params = {**self.defaults, **{k: v for k, v in params.items() if k in GENERATE_KEYS}}
        seed = params.pop("seed", None)
        if not params.get("do_sample"):
            params.pop("temperature", None)
            params.pop("top_p", None)
            params.pop("top_k", None)
        tok = self._tokenizer
        pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        inputs = self.encode(messages)
        streamer = _make_streamer(tok, self.timeout)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    if seed is not None:
                        torch.manual_seed(int(seed))
                    self._model.generate(**inputs, streamer=streamer, pad_token_id=pad_id, **params)
            except BaseException as exc:  # surfaced in the consumer thread
                errors.append(exc)
                streamer.end()

        with self._generate_lock:
            worker = threading.Thread(target=run, name="hf-generate", daemon=True)
            worker.start()
            try:
                for delta in streamer:
                    if delta:
                        yield delta
            except Empty:
                raise GenerationTimeoutError(ERR_TIMEOUT.format(seconds=self.timeout)) from None
            finally:
                worker.join(timeout=self.timeout)
            if errors:
                raise GenerationError(ERR_GENERATION_FAILED.format(detail=errors[0])) from errors[0]
