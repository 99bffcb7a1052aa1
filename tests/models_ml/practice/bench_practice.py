"""Benchmark (not collected by the suite): AI reply latency through the chat path, in-process.

    python -m pytest tests/models_ml/practice/bench_practice.py -q -s -p no:cacheprovider

Measures, with the retrieval partner built on demand from N invented High-scored sessions: the index build, and
per reply the time to the first ai.delta event and to the stored + broadcast message (what the Celery task runs),
for the AI counselor and the AI client (refinement + chunked streaming, stream delay 0)."""

from __future__ import annotations

import statistics
import time

import pytest

from models_ml.practice.services import practice_reply_generate, practice_session_start
from models_ml.practice.services import replies as services
from roleplay.models import Message
from tests.factories import UserFactory
from tests.models_ml.finetuning.conftest import make_scored_session
from tests.models_ml.llm.conftest import CLIENT_LINES, COUNSELOR_LINES

SESSIONS = 200
REPLIES = 30


@pytest.mark.django_db
def test_bench_reply_latency(role_card, monkeypatch, django_capture_on_commit_callbacks):
    for i in range(SESSIONS):
        make_scored_session(i, 70 + i % 29, turns=6)
    first: list[float] = [1.0]  # the greeting at start is not timed
    notify = services._notify

    def timed_notify(session_id, event):
        if event["type"] == "ai.delta" and not first[-1]:
            first[-1] = time.perf_counter() - started
        notify(session_id, event)

    monkeypatch.setattr(services, "_notify", timed_notify)
    for ai_role in ("counselor", "client"):
        trainee = UserFactory()
        t0 = time.perf_counter()
        with django_capture_on_commit_callbacks(execute=True):
            kwargs = {"role_card_id": role_card.pk} if ai_role == "client" else {}
            session = practice_session_start(user=trainee, ai_role=ai_role, **kwargs)
        if ai_role == "client":
            Message.objects.create(session=session, seq=1, role="counselor", sender=trainee, text=COUNSELOR_LINES[0])
            session.last_seq = 1
            session.save(update_fields=["last_seq"])
            services.backend_config_for(session.practice)  # builds the index
        build = time.perf_counter() - t0
        firsts, totals = [], []
        for r in range(REPLIES):
            session.refresh_from_db()
            human = "client" if ai_role == "counselor" else "counselor"
            lines = CLIENT_LINES if human == "client" else COUNSELOR_LINES
            Message.objects.create(
                session=session, seq=session.last_seq + 1, role=human, sender=trainee, text=lines[r % len(lines)]
            )
            session.last_seq += 1
            session.save(update_fields=["last_seq"])
            first.append(0.0)
            started = time.perf_counter()
            with django_capture_on_commit_callbacks(execute=True):
                outcome = practice_reply_generate(session_id=session.pk, after_seq=session.last_seq)
            totals.append(time.perf_counter() - started)
            firsts.append(first[-1])
            if outcome.ended:
                break
        print(
            f"\nAI {ai_role}: index build (first use) {build * 1000:.0f} ms; {len(totals)} replies: "
            f"first delta median {statistics.median(firsts) * 1000:.1f} ms, "
            f"stored median {statistics.median(totals) * 1000:.1f} ms, max {max(totals) * 1000:.1f} ms"
        )
        assert all(t > 0 for t in totals)
