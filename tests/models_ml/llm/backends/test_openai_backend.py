"""The openai backend against a real OpenAI-compatible HTTP server started here (stdlib http.server, SSE)."""

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from models_ml.llm.backends import (
    ERR_ENDPOINT_UNREACHABLE,
    ERR_REMOTE_MODEL_NOT_FOUND,
    ERR_TIMEOUT,
    EndpointUnreachableError,
    GenerationTimeoutError,
    ModelNotFoundError,
    get_backend,
)

REPLY_CHUNKS = ["そうだったのですね。", "眠れない日が続くと", "つらいですよね。"]
MESSAGES = [{"role": "user", "content": "最近、夜あまり眠れなくて。"}]


class ChatHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests: list[dict] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if body["model"] == "missing":
            payload = json.dumps({"error": {"message": "model not found", "type": "not_found"}}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if body["model"] == "slow":
            time.sleep(1.5)
        try:
            self._stream(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)
        self.close_connection = True

    def _stream(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for i, text in enumerate(REPLY_CHUNKS):
            chunk = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "delta": {"role": "assistant", "content": text} if i == 0 else {"content": text},
                        "finish_reason": None,
                    }
                ],
            }
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
            self.wfile.flush()
        done = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        self.wfile.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()


@pytest.fixture(scope="module")
def server():
    ChatHandler.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ChatHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_openai_backend_streams_deltas_over_real_http(server):
    backend = get_backend(
        {"backend": "openai", "base_url": server, "model": "kokoro-test", "api_key": "secret", "timeout": 5}
    )
    deltas = list(backend.stream(MESSAGES, temperature=0.3, max_new_tokens=64))
    assert deltas == REPLY_CHUNKS
    request = ChatHandler.requests[-1]
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["stream"] is True
    assert request["body"]["messages"] == MESSAGES
    assert request["body"]["max_tokens"] == 64 and request["body"]["temperature"] == 0.3
    assert request["auth"] == "Bearer secret"
    assert backend.generate(MESSAGES) == "".join(REPLY_CHUNKS)


def test_unreachable_endpoint_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    backend = get_backend({"backend": "openai", "base_url": url, "model": "m", "timeout": 2})
    with pytest.raises(EndpointUnreachableError) as exc:
        backend.generate(MESSAGES)
    assert str(exc.value) == ERR_ENDPOINT_UNREACHABLE.format(url=url)


def test_slow_endpoint_times_out_with_a_clear_error(server):
    backend = get_backend({"backend": "openai", "base_url": server, "model": "slow", "timeout": 0.5})
    with pytest.raises(GenerationTimeoutError) as exc:
        backend.generate(MESSAGES)
    assert str(exc.value) == ERR_TIMEOUT.format(seconds=0.5)


def test_unknown_remote_model_is_a_clear_error(server):
    backend = get_backend({"backend": "openai", "base_url": server, "model": "missing", "timeout": 5})
    with pytest.raises(ModelNotFoundError) as exc:
        backend.generate(MESSAGES)
    assert str(exc.value) == ERR_REMOTE_MODEL_NOT_FOUND.format(url=server, model="missing")
