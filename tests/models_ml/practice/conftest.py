"""Fixtures of the AI practice tests: the LLM core's tiny local Llama (reused from tests/models_ml/llm), the
shared localhost OpenAI-compatible SSE server (tests/openai_stub.py), scored sessions built with the project factories (reused from
tests/models_ml/finetuning) for the retrieval partner, the chat socket through the real consumer."""

from __future__ import annotations

from functools import partial

import pytest

from models_ml.finetuning.models import ModelVersion, RoleCard
from models_ml.practice.services import backend_cache_clear
from tests import chat_sockets
from tests.models_ml.finetuning.conftest import CARD_FIELDS, SCORES, make_scored_session
from tests.models_ml.llm.backends.test_openai_backend import REPLY_CHUNKS
from tests.models_ml.llm.conftest import tiny_base_model  # noqa: F401
from tests.openai_stub import OpenAIStub, Script

TIMEOUT = 10
OPENAI_REPLY = "".join(REPLY_CHUNKS)

CARD = dict(CARD_FIELDS, name="テスト用・営業職の男性")


@pytest.fixture(autouse=True)
def _practice_settings(settings):
    """Replies run inline (eager Celery, no embedded thread) unless a test says otherwise; no waiting."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.KOKORO_PRACTICE_EMBEDDED_THREAD = False
    settings.KOKORO_PRACTICE_DEBOUNCE_S = 0
    settings.KOKORO_PRACTICE_STREAM_DELAY_S = 0
    backend_cache_clear()
    yield
    backend_cache_clear()


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def scored_sessions(db):
    return [make_scored_session(i, s) for i, s in enumerate(SCORES)]


@pytest.fixture
def ready(db):
    """One High-scored session: enough for the built-in retrieval partner, so a practice session may start."""
    return make_scored_session(0, 85)


@pytest.fixture
def role_card(db):
    return RoleCard.objects.create(**CARD)


@pytest.fixture
def endpoint():
    """The shared localhost OpenAI-compatible server; model "scripted" answers with ``endpoint.reply.queue``
    in order, every other model (and "scripted" once the queue is empty) with ``OPENAI_REPLY``."""
    with OpenAIStub(Script(REPLY_CHUNKS)) as stub:
        yield stub


@pytest.fixture
def openai_server(endpoint) -> str:
    return endpoint.base_url


def model_version(*, kind: str, backend: str, config: dict, name: str = "テストモデル") -> ModelVersion:
    return ModelVersion.objects.create(name=name, kind=kind, backend=backend, config=config, is_active=True)


joined = partial(chat_sockets.connected, timeout=TIMEOUT)
receive_type = partial(chat_sockets.receive_type, timeout=TIMEOUT)
drain = chat_sockets.drain
