"""The openai backend against a real OpenAI-compatible HTTP server started here (tests/openai_stub.py, SSE)."""

import socket

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
from tests.openai_stub import MISSING_MODEL, SLOW_MODEL, OpenAIStub

REPLY_CHUNKS = ["そうだったのですね。", "眠れない日が続くと", "つらいですよね。"]
MESSAGES = [{"role": "user", "content": "最近、夜あまり眠れなくて。"}]


@pytest.fixture(scope="module")
def stub():
    with OpenAIStub(lambda body: REPLY_CHUNKS, slow_s=1.5) as server:
        yield server


@pytest.fixture
def server(stub) -> str:
    return stub.base_url


def test_openai_backend_streams_deltas_over_real_http(stub, server):
    backend = get_backend(
        {"backend": "openai", "base_url": server, "model": "kokoro-test", "api_key": "secret", "timeout": 5}
    )
    deltas = list(backend.stream(MESSAGES, temperature=0.3, max_new_tokens=64))
    assert deltas == REPLY_CHUNKS
    request = stub.calls[-1]
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
    backend = get_backend({"backend": "openai", "base_url": server, "model": SLOW_MODEL, "timeout": 0.5})
    with pytest.raises(GenerationTimeoutError) as exc:
        backend.generate(MESSAGES)
    assert str(exc.value) == ERR_TIMEOUT.format(seconds=0.5)


def test_unknown_remote_model_is_a_clear_error(server):
    backend = get_backend({"backend": "openai", "base_url": server, "model": MISSING_MODEL, "timeout": 5})
    with pytest.raises(ModelNotFoundError) as exc:
        backend.generate(MESSAGES)
    assert str(exc.value) == ERR_REMOTE_MODEL_NOT_FOUND.format(url=server, model=MISSING_MODEL)
