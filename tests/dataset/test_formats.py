"""The format registry: a second format plugs in and shares reading, the database's limits and the report."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from feedback.dataset import errors, formats
from feedback.dataset.errors import DatasetFormatError
from feedback.dataset.importer import dataset_import
from feedback.dataset.schema import ParsedDialogue, ParsedMessage
from feedback.models import Feedback

from .conftest import dump, make_dialogue, write_files

TOKYO = ZoneInfo("Asia/Tokyo")


class LinesFormat:
    """A toy format: {"lines_format": [[role, text], ...], "id": n}, every message at one time."""

    name = "lines"
    label = "toy lines format"

    def matches(self, obj):
        return isinstance(obj, dict) and "lines_format" in obj

    def parse(self, obj):
        when = datetime(2024, 1, 1, 9, 0, tzinfo=TOKYO)
        messages = tuple(ParsedMessage(role, when, text) for role, text in obj["lines_format"])
        return ParsedDialogue(
            evaluation_id=obj["id"],
            created_at=when,
            client_id=1,
            counselor_id=2,
            score=0,
            items=(0,) * 20,
            screenings=(False, False, False),
            topic="others",
            topic_sub="",
            messages=messages,
        )


@pytest.fixture
def lines_format(monkeypatch):
    monkeypatch.setattr(formats, "FORMATS", list(formats.FORMATS))
    formats.register_format(LinesFormat())
    formats.register_format(LinesFormat())  # registering twice keeps one
    assert [f.name for f in formats.FORMATS] == ["kokorochat", "multilingual", "lines"]


def test_a_file_is_parsed_by_the_format_it_matches(lines_format):
    parsed = formats.parse_file(b'{"lines_format": [["counselor", "hello"]], "id": 5}')
    assert parsed.evaluation_id == 5 and parsed.messages[0].text == "hello"
    assert formats.parse_file(dump(make_dialogue(evaluation_id=6))).evaluation_id == 6


@pytest.mark.parametrize(
    ("raw", "template", "params"),
    [
        (
            b'{"lines_format": [["counselor", "a\\u0000b"]], "id": 5}',
            errors.ERR_TEXT_NUL,
            {"field": "message 1", "pos": 1},
        ),
        (
            b'{"lines_format": [["counselor", "a"]], "id": 2147483648}',
            errors.ERR_OUT_OF_RANGE,
            {"field": "evaluation_id", "value": 2147483648, "min": 1, "max": 2147483647},
        ),
        (
            b'{"lines_format": [["narrator", "a"]], "id": 5}',
            errors.ERR_UNKNOWN_ROLE,
            {"field": "message 1", "value": '"narrator"', "rule": "counselor, client"},
        ),
        (b'{"lines_format": [], "id": 5}', errors.ERR_EMPTY_DIALOGUE, {"field": "dialogue"}),
        (b'{"lines_format": [], "id": 5, "id": 6}', errors.ERR_DUPLICATE_KEY, {"key": '"id"'}),
    ],
    ids=["nul", "id-range", "role", "empty", "duplicate-key"],
)
def test_the_database_limits_apply_to_every_format(lines_format, raw, template, params):
    with translation.override("en"), pytest.raises(DatasetFormatError) as exc:
        formats.parse_file(raw)
    with translation.override("en"):
        assert str(exc.value.message) == str(template) % params


def test_an_unrecognised_file_is_explained_by_the_first_format(lines_format):
    with translation.override("en"), pytest.raises(DatasetFormatError) as exc:
        formats.parse_file(b'{"something": 1}')
    with translation.override("en"):
        assert str(exc.value.message) == str(errors.ERR_MISSING_KEY) % {"field": "the file", "key": "dialogue"}


@pytest.mark.django_db
def test_files_of_both_formats_import_in_one_run(lines_format, tmp_path):
    write_files(
        tmp_path,
        {"1.json": make_dialogue(evaluation_id=1), "2.json": '{"lines_format": [["client", "hi"]], "id": 2}'},
    )
    report = dataset_import(path=tmp_path)
    assert report.ok and report.imported == 2
    assert Feedback.objects.get(evaluation_id=2).session.messages.get().text == "hi"
