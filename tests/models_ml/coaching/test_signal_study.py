"""The coaching-signal checks: taggers vs hand labels, Spearman correlations, thresholds from the High-scored
sessions, and the ``coaching_signals`` command (invented dialogues; the published data only in the
``dataset`` test, which reads ids and labels from tests/fixtures/coaching_labels.csv)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from models_ml.coaching import signal_study

LABELS = Path(__file__).resolve().parents[2] / "fixtures" / "coaching_labels.csv"


def _dialogue(total: int, turns: list[tuple[str, int, str]]) -> dict:
    """turns = (role, second, text); an invented dialogue in the published JSON layout."""
    return {
        "dialogue": [
            {"role": role, "time": f"2024-01-01T10:{s // 60:02d}:{s % 60:02d}", "utterance": text}
            for role, s, text in turns
        ],
        "review_by_client_jp": {"点数": total},
    }


def _folder(tmp_path: Path, dialogues: dict[str, dict]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name, obj in dialogues.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return tmp_path


ONE = _dialogue(
    80,
    [
        ("counselor", 0, "こんにちは、相談員です。"),
        ("client", 10, "眠れなくて困っています。"),
        ("counselor", 20, "眠れないのはおつらいですね。いつからですか？"),
        ("client", 30, "先月からです。"),
        ("counselor", 50, "そうですか。"),
        ("client", 60, "仕事も忙しくて、家でも休めません。"),
        ("counselor", 70, "仕事が忙しいうえに家でも休めないのですね。"),
    ],
)


def test_tagger_scores_count_hits_misses_and_false_alarms(tmp_path):
    folder = _folder(tmp_path, {"7": ONE})
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "dialogue_id,message_index,question,reflection,summary\n"
        "7,2,1,1,0\n"  # question + reflection: both found
        "7,4,1,0,0\n"  # labelled a question, the tagger treats そうですか as a back-channel: a miss
        "7,6,0,1,1\n",  # a summary the tagger cannot see (no marker): reflection found, summary missed
        encoding="utf-8",
    )
    scores = signal_study.tagger_scores(signal_study.load_labels(labels), folder)
    assert scores["messages"] == 3 and scores["dialogues"] == 1
    q = scores["question"]
    assert (q["tp"], q["fn"], q["fp"], q["precision"], q["recall"]) == (1, 1, 0, 1.0, 0.5)
    assert (scores["reflection"]["tp"], scores["reflection"]["fp"], scores["reflection"]["fn"]) == (2, 0, 0)
    assert scores["summary"]["recall"] == 0.0 and scores["summary"]["precision"] is None


def test_labels_pointing_at_a_missing_dialogue_or_a_client_message_are_errors(tmp_path):
    folder = _folder(tmp_path, {"7": ONE})
    with pytest.raises(ValueError, match="not in"):
        signal_study.tagger_scores([signal_study.Label("8", 0, True, False, False)], folder)
    with pytest.raises(ValueError, match="not a counselor message"):
        signal_study.tagger_scores([signal_study.Label("7", 1, True, False, False)], folder)


def test_thresholds_come_from_the_high_sessions_only():
    long_text = "あ" * 150
    high = _dialogue(
        85,
        [("client", 0, "はい。")]
        + [
            turn
            for k in range(10)
            for turn in (("counselor", 60 * k + 10 + k, "あ" * (10 * (k + 1))), ("client", 60 * k + 30, "はい。"))
        ],
    )
    low = _dialogue(30, [("client", 0, "はい。"), ("counselor", 900, long_text)])  # not High: ignored
    t = signal_study.derive_thresholds([high, low], quantile=0.9)
    assert t["sessions"] == 1 and t["counselor_messages"] == 10
    assert t["long_reply_chars"] == 90  # lengths 10..100: the 9th of 10
    assert t["question_streak"] == 1  # no questions at all: any single question is already rare
    questions = _dialogue(
        75, [("client", 0, "はい。")] + [("counselor", 10 * k + 5, "いつからですか？") for k in range(1, 5)]
    )
    assert signal_study.derive_thresholds([questions], quantile=0.7)["question_streak"] == 4  # runs 1, 2, 3, 4


def test_correlations_follow_the_total_score():
    sessions = []
    for k in range(6):  # more questions, lower score
        turns = [("client", 0, "はい。")]
        turns += [
            ("counselor", 10 + i, "いつからですか？" if i < k else "そうなんですね、おつらいですね。") for i in range(6)
        ]
        sessions.append(_dialogue(90 - 10 * k, turns))
    result = signal_study.correlations(sessions)
    assert result["sessions"] == 6 and result["question_ratio"]["rho"] == -1.0


def test_the_command_prints_the_three_checks_and_refuses_a_bad_folder(tmp_path):
    folder = _folder(tmp_path / "d", {"7": ONE, "8": ONE | {"review_by_client_jp": {"点数": 40}}, "9": ONE})
    labels = tmp_path / "labels.csv"
    labels.write_text("dialogue_id,message_index,question,reflection,summary\n7,2,1,1,0\n", encoding="utf-8")
    out = StringIO()
    call_command("coaching_signals", str(folder), "--labels", str(labels), stdout=out, stderr=StringIO())
    text = out.getvalue()
    assert "Spearman with the total score (3 sessions)" in text
    assert "Thresholds (quantile 0.95" in text and "question: precision 1.000, recall 1.000" in text
    with pytest.raises(CommandError, match="No dialogue JSON"):
        call_command("coaching_signals", str(tmp_path / "empty"), stdout=StringIO())
    with pytest.raises(CommandError, match="does not exist"):
        call_command("coaching_signals", str(folder), "--labels", str(tmp_path / "nope.csv"), stdout=StringIO())


def test_the_fixture_holds_ids_and_labels_only():
    rows = signal_study.load_labels(LABELS)
    assert len(rows) >= 300 and len({(r.dialogue_id, r.index) for r in rows}) == len(rows)
    assert all(r.reflection for r in rows if r.summary)  # a summary is always a reflection
    header = LABELS.read_text(encoding="utf-8").splitlines()[0]
    assert header == "dialogue_id,message_index,question,reflection,summary"


@pytest.mark.dataset
def test_taggers_on_the_hand_labelled_published_messages(kokorochat_dir):
    scores = signal_study.tagger_scores(signal_study.load_labels(LABELS), kokorochat_dir)
    assert scores["messages"] == 320 and scores["dialogues"] == 80
    assert scores["question"]["precision"] == pytest.approx(0.932, abs=0.001)
    assert scores["question"]["recall"] == pytest.approx(0.953, abs=0.001)
    assert scores["reflection"]["precision"] == pytest.approx(0.718, abs=0.001)
    assert scores["reflection"]["recall"] == pytest.approx(0.767, abs=0.001)
    assert scores["summary"]["positives"] == 17
