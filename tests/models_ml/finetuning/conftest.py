"""Fixtures of the partners tests: the LLM core's tiny local Llama (reused from tests/models_ml/llm), scored
sessions in the database built with the project factories, and tiny hyper-parameters for CPU runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from feedback.items import ITEM_FIELDS
from roleplay.models import Role, SessionStatus
from tests.factories import FeedbackFactory, MessageFactory, SessionFactory, UserFactory
from tests.models_ml.llm.conftest import CLIENT_LINES, CLOSING, COUNSELOR_LINES, tiny_base_model  # noqa: F401

SCORES = [85, 90, 72, 78, 60, 40, 88, 81, 74, 99, 66, 92]

# A role card's nine elements (invented), for the suites that need a card in the database; each adds a name.
CARD_FIELDS = {
    "gender": "男性",
    "age": 34,
    "education": "大学卒業",
    "occupation": "会社員（営業）",
    "marital_status": "既婚",
    "family": "妻と二人暮らし",
    "big_five": {
        "openness": "普通",
        "conscientiousness": "高い",
        "extraversion": "低い",
        "agreeableness": "高い",
        "neuroticism": "高い",
    },
    "resistance": "相談することに少し抵抗がある",
    "chief_complaint": "残業が続いて眠れない",
}


def tiny_hyperparameters(**training) -> dict:
    """Paper structure, tiny numbers: a few steps on CPU."""
    params = {
        "per_device_train_batch_size": 2,
        "per_device_eval_batch_size": 4,
        "warmup_steps": 0,
        "gradient_checkpointing": False,
        "logging_steps": 1,
        "max_length": 256,
        "eval_steps": 400,
    }
    params.update(training)
    return {"training": params}


def make_scored_session(index: int, score: int, turns: int = 4):
    """An ended session with alternating counselor/client messages (our own invented text) and feedback."""
    start = timezone.now() - timedelta(hours=2, minutes=index)
    session = SessionFactory(status=SessionStatus.ENDED, starts_at=start, started_at=start, ended_at=start)
    texts = [(Role.COUNSELOR, COUNSELOR_LINES[0])]
    for t in range(turns):
        texts.append((Role.CLIENT, CLIENT_LINES[(index + t) % len(CLIENT_LINES)]))
        texts.append((Role.COUNSELOR, COUNSELOR_LINES[1 + (index * 3 + t) % (len(COUNSELOR_LINES) - 1)]))
    texts.append((Role.COUNSELOR, CLOSING))
    for seq, (role, text) in enumerate(texts, start=1):
        sender = session.counselor if role == Role.COUNSELOR else session.client
        MessageFactory(session=session, seq=seq, role=role, text=text, sender=sender)
    session.last_seq = len(texts)
    session.save(update_fields=["last_seq"])
    items = {f: min(5, max(0, round(score / 20) + ((index + k) % 3) - 1)) for k, f in enumerate(ITEM_FIELDS)}
    return FeedbackFactory(session=session, total=score, **items)


@pytest.fixture
def scored_sessions(db):
    return [make_scored_session(i, s) for i, s in enumerate(SCORES)]


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def plain_user(db):
    return UserFactory()


@pytest.fixture(autouse=True)
def _job_settings(settings):
    """Run queued jobs inline in embedded mode (no background thread in tests); quick polling."""
    settings.KOKORO_FINETUNE_EMBEDDED_THREAD = False
    settings.KOKORO_FINETUNE_CANCEL_POLL_S = 0.2
    settings.KOKORO_FINETUNE_HEARTBEAT_S = 0.5
    settings.KOKORO_FINETUNE_PROGRESS_WRITE_S = 0.5


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    import torch

    torch.set_num_threads(1)
