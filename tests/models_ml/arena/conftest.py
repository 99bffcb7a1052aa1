"""Fixtures of the arena tests: invented role cards and scored sessions (project factories, reused from
tests/models_ml/finetuning), and a scripted reply for the shared OpenAI-compatible server on localhost (tests/openai_stub.py):
the model name picks the script."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from models_ml.arena import services
from models_ml.finetuning.models import ModelVersion, RoleCard
from tests.factories import UserFactory
from tests.models_ml.finetuning.conftest import CARD_FIELDS, make_scored_session
from tests.openai_stub import OpenAIStub

CARD = dict(CARD_FIELDS, name="テスト・残業の多い会社員")
CARD_2 = dict(
    CARD,
    name="テスト・部活に悩む高校生",
    gender="女性",
    age=16,
    education="高校在学中",
    occupation="高校生",
    marital_status="未婚",
    family="両親と弟",
    chief_complaint="部活の先輩との関係がつらい",
)

CLIENT_TEXT = "最近、残業が続いて眠れないんです。"
COUNSELOR_TEXT = "眠れない日が続いているのですね。"
CLOSING_TEXT = "今日はお話しいただきありがとうございました。お大事に。"
MARKER = "気持ち"  # the "good" reply the scripted judge prefers contains this word
TOPIC_OK = '```json\n{"category": "職場問題", "sub": "残業と睡眠不足"}\n```'
WAI_BASE = [5, 6, 5, 2, 5, 5, 6, 4, 6, 3, 6, 6]  # ratings as worded; items 4 and 10 are the reverse-keyed ones
WAI_ROUND_OFFSET = (0, 1, 0)  # the k-th time an item is asked, the scripted judge adds this: mean = base + 1/3


def _seen_before(key: str, store: set[str]) -> bool:
    if key in store:
        return True
    store.add(key)
    return False


SEEN: set[str] = set()  # request digests already answered (the "fails once" scripts)
ASKED: dict[str, int] = {}  # WAI item -> times asked (the round-dependent WAI judge)


def _wai_item(text: str) -> int:
    from models_ml.arena.wai import WAI_O_S_ITEMS

    asked = re.search(r"質問項目：(.*)", text).group(1)
    return next(i for i, item in enumerate(WAI_O_S_ITEMS) if item.text_ja == asked)


def scripted_reply(body: dict) -> str | None:
    """The model name picks the script; ``None`` makes the server answer HTTP 500."""
    model, messages = body["model"], body["messages"]
    digest = hashlib.sha256(json.dumps(messages, ensure_ascii=False).encode()).hexdigest()
    said = sum(1 for m in messages if m["role"] == "assistant")
    user = messages[-1]["content"] if messages else ""
    if model == "client":
        return CLIENT_TEXT
    if model == "client-card":  # speaks about its own chief complaint
        return re.search(r"主訴: (.*)", messages[0]["content"]).group(1).rstrip("。") + "んです。"
    if model.startswith("counselor-close-"):  # the k-th counselor turn closes
        k = int(model.rsplit("-", 1)[1])
        return CLOSING_TEXT if said + 1 >= k else COUNSELOR_TEXT
    if model == "counselor-flaky":  # every request fails once, then succeeds
        return COUNSELOR_TEXT if _seen_before(digest, SEEN) else None
    if model == "counselor-fail":
        return None
    if model == "counselor-good":
        return f"その{MARKER}、よくわかります。"
    if model == "counselor-plain":
        return "そうですか。"
    if model == "judge-marker":  # picks whichever shown candidate carries the marker
        first = re.search(r"# 候補A\n(.*?)\n\n# 候補B", user, re.S).group(1)
        return f"理由: 共感が示されている。\n判定: {'A' if MARKER in first else 'B'}"
    if model == "judge-first":
        return "どちらも丁寧ですが、\n判定：Ａ"
    if model == "judge-garbage":
        return "よくわかりません。"
    if model == "topic-ok":
        return TOPIC_OK
    if model == "topic-bad-then-ok":
        return TOPIC_OK if _seen_before(digest, SEEN) else '{"category": "宇宙問題", "sub": "?"}'
    if model == "topic-bad":
        return "カテゴリーは職場かな"
    if model == "wai-ok":  # one rating per item prompt, varying with the round
        index = _wai_item(user)
        k = ASKED.get(user, 0)
        ASKED[user] = k + 1
        return f"評定: {WAI_BASE[index] + WAI_ROUND_OFFSET[k % 3]}"
    if model == "wai-bad":
        return "9"
    return None


@pytest.fixture(scope="session")
def llm_stub():
    with OpenAIStub(scripted_reply) as stub:
        yield stub


@pytest.fixture(scope="session")
def llm_server(llm_stub) -> str:
    return llm_stub.base_url


@pytest.fixture(autouse=True)
def _arena_settings(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.KOKORO_ARENA_EMBEDDED_THREAD = False
    settings.KOKORO_SIM_RETRY_BACKOFF_S = 0
    settings.KOKORO_GENERATION_BACKENDS = {}
    services.backend_cache_clear()
    SEEN.clear()
    ASKED.clear()
    yield
    services.backend_cache_clear()


@pytest.fixture
def version(db, llm_server):
    def make(model: str, kind: str = "counselor", name: str | None = None) -> ModelVersion:
        return ModelVersion.objects.create(
            name=name or model,
            kind=kind,
            backend="openai",
            config={"base_url": llm_server, "model": model, "timeout": 5},
            is_active=True,
        )

    return make


@pytest.fixture
def role_card(db):
    return RoleCard.objects.create(**CARD)


@pytest.fixture
def role_cards(db):
    return [RoleCard.objects.create(**CARD), RoleCard.objects.create(**CARD_2)]


@pytest.fixture
def scored_sessions(db):
    """12 sessions with feedback: High-scored ones feed the retrieval partner, the 99 one is a test dialogue."""
    return [make_scored_session(i, s) for i, s in enumerate([85, 90, 72, 78, 60, 40, 88, 81, 74, 99, 66, 92])]


@pytest.fixture
def staff_user(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def plain_user(db):
    return UserFactory()
