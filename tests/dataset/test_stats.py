import pytest
from django.core.management import call_command

from feedback.dataset.importer import dataset_import
from feedback.dataset.stats import dataset_correlations, dataset_summary

from .conftest import LINES, make_dialogue, write_files

pytestmark = pytest.mark.django_db

SHORT = (("counselor", "どうぞ。"), ("client", "はい、ありがとう。"))
ITEMS_40 = (2,) * 20
DEFAULT_ITEMS_SUM = 73


@pytest.fixture
def small_dataset(tmp_path):
    files = {
        "1.json": make_dialogue(evaluation_id=1, client_id=1, counselor_id=2),
        "2.json": make_dialogue(evaluation_id=2, client_id=3, counselor_id=2, items=ITEMS_40, lines=SHORT),
        "3.json": make_dialogue(
            evaluation_id=3,
            client_id=2,
            counselor_id=1,
            screenings=(False, False, True),
            topic=("学校問題", "School Issues"),
        ),
    }
    assert dataset_import(path=write_files(tmp_path, files)).imported == 3


def test_summary_matches_hand_computed_figures(small_dataset):
    s = dataset_summary()
    assert s["dialogues"] == 3
    assert (s["speakers"], s["counselor_speakers"], s["client_speakers"]) == (3, 2, 3)
    assert s["pairs"] == 3
    assert s["messages"] == 14
    assert (s["counselor"]["n"], s["client"]["n"]) == (7, 7)
    assert s["messages_per_dialogue"] == round(14 / 3, 2)
    assert s["counselor"]["per_dialogue"] == round(7 / 3, 2)
    counselor_chars = 2 * sum(len(u) for r, u in LINES if r == "counselor") + len("どうぞ。")
    client_chars = 2 * sum(len(u) for r, u in LINES if r == "client") + len("はい、ありがとう。")
    assert s["counselor"]["chars_per_message"] == round(counselor_chars / 7, 2)
    assert s["client"]["chars_per_message"] == round(client_chars / 7, 2)
    assert s["chars_per_message"] == round((counselor_chars + client_chars) / 14, 2)
    scores = [DEFAULT_ITEMS_SUM, 40, DEFAULT_ITEMS_SUM // 2]
    assert s["score_mean"] == round(sum(scores) / 3, 2)
    assert s["score_median"] == 40
    assert s["score_histogram"]["36"] == 1 and sum(s["score_histogram"].values()) == 3
    assert list(s["screenings"].values()) == [0, 0, 1] and s["any_screening"] == 1
    assert s["subsets"] == {"all": 3, "full": 3, "low": 2, "high": 1, "test": 0}
    assert s["topics"]["workplace"] == 2 and s["topics"]["school"] == 1


def test_median_of_even_count_is_the_mean_of_the_middle_two(small_dataset, tmp_path):
    extra = make_dialogue(evaluation_id=4, items=(5,) * 20)
    dataset_import(path=write_files(tmp_path / "more", {"4.json": extra}))
    assert dataset_summary()["score_median"] == (40 + DEFAULT_ITEMS_SUM) / 2


def test_correlations_cover_features_and_the_item_matrix(small_dataset):
    corr = dataset_correlations()
    by_key = {f["key"]: f for f in corr["features"]}
    assert by_key["client_messages"]["n"] == 3
    # the two long dialogues have 3 client messages, the short one 1 (score 40, the middle score)
    assert by_key["counselor_response_s"]["n"] == 2  # the short dialogue has no client→counselor turn
    assert len(corr["item_matrix"]) == 20 and all(len(row) == 20 for row in corr["item_matrix"])
    assert corr["item_matrix"][0][0] == 1.0


def test_stats_command_json_and_text(small_dataset, capsys):
    import json

    call_command("dataset_stats", "--json")
    data = json.loads(capsys.readouterr().out)
    assert data["dialogues"] == 3 and data["pairs"] == 3
    call_command("dataset_stats")
    assert "dialogues            3" in capsys.readouterr().out
