"""A small OpenAI-compatible Chat Completions server on localhost (real HTTP, SSE streaming).

``reply`` maps the request body to the assistant's text, streamed in chunks of ``chunk_size``
characters; ``None`` answers HTTP 500 with an OpenAI-style error whose message is
``FAILURE_MESSAGE``. Every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAILURE_MESSAGE = "scripted failure"


class OpenAIStub:
    def __init__(self, reply: Callable[[dict], str | None], *, chunk_size: int = 8) -> None:
        self.reply = reply
        self.requests: list[dict] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                text = stub.reply(body)
                if text is None:
                    self._send_json(500, {"error": {"message": FAILURE_MESSAGE, "type": "server_error"}})
                    return
                if body.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for i in range(0, len(text), chunk_size):
                        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": body["model"]}
                        chunk["choices"] = [
                            {"index": 0, "delta": {"content": text[i : i + chunk_size]}, "finish_reason": None}
                        ]
                        self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    self.close_connection = True
                    return
                message = {"role": "assistant", "content": text}
                completion = {"id": "c", "object": "chat.completion", "created": 0, "model": body["model"]}
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
