"""The score rule (``compute_total``), the questionnaire definition, and the dataset's own scores."""

import json
import math

import pytest
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from feedback.items import (
    ASPECT_LABELS,
    GROUP_LABELS,
    HEADER_EN,
    HEADER_JP,
    ITEM_LABELS_EN,
    ITEMS,
    SCREENING_CHECKED_JP,
    SCREENING_HELP,
    SCREENING_LABELS_EN,
    SCREENINGS,
    compute_total,
    item_label,
    screening_label,
)


def reference_total(items: list[int], s1: bool, s2: bool, s3: bool) -> int:
    """An independent formulation: screening S1/S2 zero the score, S3 halves it (rounded down)."""
    if s1 or s2:
        return 0
    acc = 0
    for v in items:
        acc += v
    return math.floor(acc / 2) if s3 else acc


def test_plain_total_is_the_sum_of_the_twenty_items():
    items = [5] * 10 + [3] * 10
    assert compute_total(items, s1=False, s2=False, s3=False) == 80


@pytest.mark.parametrize("flags", [(True, False, False), (False, True, False), (True, True, True), (False, True, True)])
def test_s1_or_s2_makes_the_total_zero_whatever_s3(flags):
    s1, s2, s3 = flags
    assert compute_total([5] * 20, s1=s1, s2=s2, s3=s3) == 0


def test_s3_halves_the_sum_rounding_down():
    items = [4] * 19 + [3]  # sum 79
    assert compute_total(items, s1=False, s2=False, s3=True) == 39


@pytest.mark.parametrize("items", [[3] * 19, [3] * 21, []])
def test_wrong_number_of_items_is_refused(items):
    with pytest.raises(ValueError):
        compute_total(items, s1=False, s2=False, s3=False)


@pytest.mark.parametrize("bad", [-1, 6])
def test_item_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        compute_total([3] * 19 + [bad], s1=False, s2=False, s3=False)


@given(
    items=st.lists(st.integers(min_value=0, max_value=5), min_size=20, max_size=20),
    s1=st.booleans(),
    s2=st.booleans(),
    s3=st.booleans(),
)
def test_rule_agrees_with_an_independent_formulation(items, s1, s2, s3):
    total = compute_total(items, s1=s1, s2=s2, s3=s3)
    assert total == reference_total(items, s1, s2, s3)
    assert 0 <= total <= 100


@given(items=st.lists(st.integers(min_value=0, max_value=5), min_size=20, max_size=20), index=st.integers(0, 19))
def test_raising_one_item_never_lowers_the_total(items, index):
    higher = list(items)
    higher[index] = min(5, higher[index] + 1)
    for s3 in (False, True):
        assert compute_total(higher, s1=False, s2=False, s3=s3) >= compute_total(items, s1=False, s2=False, s3=s3)


def test_questionnaire_has_twenty_items_in_two_groups_numbered_in_order():
    assert [i.number for i in ITEMS] == list(range(1, 21))
    assert {i.group for i in ITEMS} == set(GROUP_LABELS)
    assert [i.group for i in ITEMS[:10]] == ["impression"] * 10
    assert {i.aspect for i in ITEMS} == set(ASPECT_LABELS)
    assert [s.code for s in SCREENINGS] == ["S1", "S2", "S3"]


def test_every_item_and_screening_has_an_english_label_and_screenings_an_explanation():
    assert set(ITEM_LABELS_EN) == {i.field for i in ITEMS}
    assert set(SCREENING_LABELS_EN) == set(SCREENING_HELP) == {s.field for s in SCREENINGS}


def test_labels_follow_the_ui_language():
    item, screening = ITEMS[0], SCREENINGS[2]
    with translation.override("ja"):
        assert item_label(item) == item.jp and screening_label(screening) == screening.jp
    with translation.override("en"):
        assert item_label(item) == ITEM_LABELS_EN[item.field]
        assert screening_label(screening) == SCREENING_LABELS_EN[screening.field]


def _review_values(review: dict, *, english: bool) -> tuple[list[int], list[bool]]:
    items = [review[i.en if english else i.jp] for i in ITEMS]
    flags = []
    for s in SCREENINGS:
        value = review[s.en if english else s.jp]
        assert value in (None, SCREENING_CHECKED_JP), value
        flags.append(value == SCREENING_CHECKED_JP)
    return items, flags


@pytest.mark.dataset
@pytest.mark.slow
def test_rule_reproduces_every_score_of_the_kokorochat_dataset(kokorochat_dir):
    files = sorted(kokorochat_dir.glob("*.json"))
    mismatches, disagreements = [], []
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        jp, en = data["review_by_client_jp"], data["review_by_client_en"]
        assert list(jp)[: len(HEADER_JP)] == list(HEADER_JP)
        assert list(en)[: len(HEADER_EN)] == list(HEADER_EN)
        assert list(jp)[len(HEADER_JP) :] == [i.jp for i in ITEMS] + [s.jp for s in SCREENINGS]
        assert list(en)[len(HEADER_EN) :] == [i.en for i in ITEMS] + [s.en for s in SCREENINGS]
        items, flags = _review_values(jp, english=False)
        if compute_total(items, s1=flags[0], s2=flags[1], s3=flags[2]) != jp["点数"]:
            mismatches.append(path.name)
        if [en[k] for k in HEADER_EN] != [jp[k] for k in HEADER_JP] or _review_values(en, english=True) != (
            items,
            flags,
        ):
            disagreements.append(path.name)
    assert len(files) == 6589
    assert mismatches == []
    assert disagreements == []
