"""``manage.py reproduce_paper`` on a tiny invented fixture: the four tables, greedy decoding, Distinct in %,
the tokenisation stated and one comparability line per table."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from models_ml.arena.models import WaiRating
from roleplay.models import Session, SessionSource
from tests.models_ml.finetuning.conftest import make_scored_session
from tests.models_ml.scoring.scorer_samples import make_labelled_sessions

pytestmark = pytest.mark.django_db


def _wai(session, goal, task, bond):
    WaiRating.objects.create(
        session=session,
        judge_model="j",
        items=[4.0] * 12,
        goal=goal,
        task=task,
        bond=bond,
        total=(goal + task + bond) / 3,
    )


@pytest.fixture
def fixture_world(version, role_card, django_capture_on_commit_callbacks):
    from models_ml.arena import services

    for i, score in enumerate([85, 90, 72, 78, 60, 40, 88, 81, 74, 99, 66, 92]):
        make_scored_session(i, score)
    make_labelled_sessions(24)
    version("counselor-good")  # an active trained counselor besides the retrieval partner
    client, closer = version("client-card", kind="client"), version("counselor-close-2")
    with django_capture_on_commit_callbacks(execute=True):
        services.simulation_job_create(
            role_card_ids=[role_card.pk], client_version_id=client.pk, counselor_version_id=closer.pk
        )
    closer.is_active = False  # used by the simulation only, not a row of Table 4
    closer.save()
    simulated = Session.objects.get(source=SessionSource.SIMULATED)
    human = Session.objects.exclude(source=SessionSource.SIMULATED).first()
    _wai(simulated, 6.0, 5.5, 5.0)
    _wai(human, 5.0, 4.5, 6.0)


def test_reproduce_paper_writes_the_four_tables_with_their_comparability_lines(fixture_world, tmp_path, llm_stub):
    start = len(llm_stub.requests)
    out = tmp_path / "tables.md"
    call_command(
        "reproduce_paper", "--limit", "3", "--seeds", "0", "--out", str(out), stdout=StringIO(), stderr=StringIO()
    )
    text = out.read_text(encoding="utf-8")
    for title in (
        "KokoroChat Table 4",
        "KokoroChat Table 5",
        "Interactive Agents — client",
        "Interactive Agents — counselor",
    ):
        assert title in text
    assert text.count("*Comparability*") == 4
    assert "**Tokenisation: word** — MeCab" in text and "**Tokenisation: char**" in text
    assert "Distinct in %" in text and "greedy" in text
    # Table 4: one row per configured counselor (retrieval + the active trained one), Distinct as a percentage
    t4 = text[text.index("KokoroChat Table 4") : text.index("KokoroChat Table 5")]
    assert "counselor-good" in t4 and "retrieval" in t4.lower()
    distinct = [float(r.split("|")[-2]) for r in t4.splitlines() if r.startswith("| counselor-good")]
    assert distinct and all(1.0 < d <= 100.0 for d in distinct)
    greedy = [r for r in llm_stub.requests[start:] if r["model"] == "counselor-good"]
    assert greedy and all(r.get("temperature") == 0.0 for r in greedy)
    # Table 5: the paper's rows and ours
    t5 = text[text.index("KokoroChat Table 5") : text.index("Interactive Agents — client")]
    assert "35.35" in t5 and "30.92" in t5 and "| cpu scorer" in t5
    # Interactive Agents: the paper's rows and ours
    assert "0.406" in text and "simulated sessions here" in text
    counselor = text[text.index("Interactive Agents — counselor") :]
    assert re.search(
        r"\| simulated sessions here \| 6\.000 ± 0\.000 \| 5\.500 ± 0\.000 \| 5\.000 ± 0\.000 \| 1 \|", counselor
    )
    assert "| human sessions here | 5.000" in counselor and "6.045" in counselor


def test_reproduce_paper_rejects_bad_options(db):
    with pytest.raises(CommandError, match="--limit"):
        call_command("reproduce_paper", "--limit", "0", stdout=StringIO())
    with pytest.raises(CommandError, match="--seeds"):
        call_command("reproduce_paper", "--seeds", "a,b", stdout=StringIO())
