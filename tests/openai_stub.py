"""A small OpenAI-compatible Chat Completions server on localhost (real HTTP, SSE streaming).

``reply`` maps the request body to the assistant's answer: a text (streamed in chunks of ``chunk_size``
characters), a list of chunks (streamed as given), or ``None`` for HTTP 500 with an OpenAI-style error whose
message is ``FAILURE_MESSAGE``. Two model names behave like a misconfigured or overloaded server whatever
``reply`` says: ``MISSING_MODEL`` answers 404, ``SLOW_MODEL`` answers after ``slow_s`` seconds.
``first_delay_s`` and ``chunk_interval_s`` pace the stream like a real model (prefill, then decode); a request
that asks for usage (``stream_options.include_usage``) gets it, counting one token per chunk.

Every request body is kept in ``requests``; its path and Authorization header in ``calls``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAILURE_MESSAGE = "scripted failure"
MISSING_MODEL = "missing"
SLOW_MODEL = "slow"

Answer = str | list[str] | None


class OpenAIStub:
    def __init__(
        self,
        reply: Callable[[dict], Answer],
        *,
        chunk_size: int = 8,
        slow_s: float = 1.5,
        first_delay_s: float = 0.0,
        chunk_interval_s: float = 0.0,
    ) -> None:
        self.reply = reply
        self.requests: list[dict] = []
        self.calls: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                stub.calls.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if body.get("model") == MISSING_MODEL:
                    self._send_json(404, {"error": {"message": "model not found", "type": "not_found"}})
                    return
                if body.get("model") == SLOW_MODEL:
                    time.sleep(slow_s)
                answer = stub.reply(body)
                if answer is None:
                    self._send_json(500, {"error": {"message": FAILURE_MESSAGE, "type": "server_error"}})
                    return
                chunks = answer if isinstance(answer, list) else _split(answer, chunk_size)
                try:
                    if body.get("stream"):
                        self._stream(body, chunks)
                    else:
                        self._complete(body["model"], "".join(chunks))
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)
                self.close_connection = True

            def _stream(self, body: dict, chunks: list[str]) -> None:
                model = body["model"]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                time.sleep(first_delay_s)
                for i, text in enumerate(chunks):
                    if i:
                        time.sleep(chunk_interval_s)
                    delta = {"role": "assistant", "content": text} if i == 0 else {"content": text}
                    self._event(_chunk(model, delta, None))
                self._event(_chunk(model, {}, "stop"))
                if (body.get("stream_options") or {}).get("include_usage"):  # one chunk is one "token" here
                    usage = {"prompt_tokens": 0, "completion_tokens": len(chunks), "total_tokens": len(chunks)}
                    self._event({**_chunk(model, {}, None), "choices": [], "usage": usage})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _event(self, payload: dict) -> None:
                self.wfile.write(f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()

            def _complete(self, model: str, text: str) -> None:
                message = {"role": "assistant", "content": text}
                completion = {"id": "c", "object": "chat.completion", "created": 0, "model": model}
                completion["choices"] = [{"index": 0, "message": message, "finish_reason": "stop"}]
                self._send_json(200, completion)

            def _send_json(self, status: int, payload: dict) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class Script:
    """A ``reply`` that answers requests for ``model`` with the queued texts in order, then (and for every
    other model) with ``default``."""

    def __init__(self, default: Answer, *, model: str = "scripted") -> None:
        self.default = default
        self.model = model
        self.queue: list[str] = []

    def __call__(self, body: dict) -> Answer:
        if body.get("model") == self.model and self.queue:
            return self.queue.pop(0)
        return self.default


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _chunk(model: str, delta: dict, finish_reason: str | None) -> dict:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }
