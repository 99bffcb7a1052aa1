"""Fixtures of the arena tests: invented role cards and scored sessions (project factories, reused from
tests/models_ml/partners), and a scripted OpenAI-compatible SSE server on localhost (the pattern of
tests/models_ml/llm/backends/test_openai_backend.py): the model name picks the script."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from models_ml.arena import services
from models_ml.partners.models import ModelVersion, RoleCard
from tests.factories import UserFactory
from tests.models_ml.partners.conftest import make_scored_session

CARD = {
    "name": "テスト・残業の多い会社員",
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
WAI_OK = "\n".join(f"{i}. {v}" for i, v in enumerate([5, 6, 5, 4, 5, 5, 6, 4, 6, 7, 6, 6], start=1))


def _seen_before(key: str, store: set[str]) -> bool:
    if key in store:
        return True
    store.add(key)
    return False


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests: list[dict] = []
    seen: set[str] = set()

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        model, messages = body["model"], body["messages"]
        digest = hashlib.sha256(json.dumps(messages, ensure_ascii=False).encode()).hexdigest()
        reply = self._script(model, messages, digest)
        if reply is None:
            return self._error(500, "scripted failure")
        self._stream(model, reply)

    def _script(self, model: str, messages: list[dict], digest: str) -> str | None:
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
            return COUNSELOR_TEXT if _seen_before(digest, type(self).seen) else None
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
            return TOPIC_OK if _seen_before(digest, type(self).seen) else '{"category": "宇宙問題", "sub": "?"}'
        if model == "topic-bad":
            return "カテゴリーは職場かな"
        if model == "wai-ok":
            return WAI_OK
        if model == "wai-bad":
            return '{"scores": [9, 9, 9]}'
        return None

    def _error(self, status: int, message: str) -> None:
        payload = json.dumps({"error": {"message": message, "type": "server_error"}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, model: str, text: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for i in range(0, len(text), 8):
            chunk = {
                "id": "chatcmpl-arena",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": model,
                "choices": [{"index": 0, "delta": {"content": text[i : i + 8]}, "finish_reason": None}],
            }
            self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


@pytest.fixture(scope="session")
def llm_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _arena_settings(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.KOKORO_ARENA_EMBEDDED_THREAD = False
    settings.KOKORO_SIM_RETRY_BACKOFF_S = 0
    settings.KOKORO_GENERATION_BACKENDS = {}
    services.backend_cache_clear()
    ScriptedHandler.seen = set()
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
