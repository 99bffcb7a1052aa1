"""Property tests: mutated published-format files never end in an exception, nor half-saved."""

import json
import tempfile
from pathlib import Path

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback.dataset.errors import DatasetFormatError
from feedback.dataset.formats import parse_file
from feedback.dataset.importer import dataset_import
from feedback.models import Feedback
from roleplay.models import Message, Profile, Session

from .conftest import dump, make_dialogue

pytestmark = pytest.mark.django_db
FUZZ_ID, CLIENT, COUNSELOR = 77, 3001, 3002

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([0, 1, 5, 73, 100, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -1])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=6)
    | st.sampled_from(["\x00", "\ud800", "73", "チェックあり", "2024-05-01T10:00:00", "9999-12-31T23:59:59"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _fixture() -> dict:
    return make_dialogue(evaluation_id=FUZZ_ID, client_id=CLIENT, counselor_id=COUNSELOR)


@st.composite
def structural(draw) -> bytes:
    """Delete, replace or duplicate a value anywhere; NaN and huge numbers written as Python would."""
    obj = _fixture()
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(obj) if p]
        path = draw(st.sampled_from(paths))
        parent = obj
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["delete", "replace", "both reviews"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "both reviews" and path[0].startswith("review_by_client") and len(path) == 2:
            index = list(obj[path[0]]).index(path[1])
            value = draw(scalars)
            for review in ("review_by_client_jp", "review_by_client_en"):
                obj[review][list(obj[review])[index]] = value
        else:
            parent[path[-1]] = draw(json_values)
    text = json.dumps(obj, ensure_ascii=draw(st.booleans()), indent=2)  # NaN / Infinity as Python writes them
    return text.encode("utf-8", "surrogatepass")


@st.composite
def textual(draw) -> bytes:
    """Byte-level damage of a valid file: cut, insert, overwrite, duplicate a line."""
    raw = bytearray(dump(_fixture()).encode("utf-8"))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(raw)))
        kind = draw(st.sampled_from(["cut", "insert", "overwrite", "dup-line"]))
        if kind == "cut":
            del raw[pos : pos + draw(st.integers(1, 20))]
        elif kind == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b"\\u0000", b"\\ud800", b"NaN"]))
        elif kind == "overwrite" and pos < len(raw):
            raw[pos] = draw(st.integers(0, 255))
        else:
            lines = bytes(raw).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            raw = bytearray(b"\n".join([*lines[: i + 1], lines[i], *lines[i + 1 :]]))
    return bytes(raw)


def _check_import(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp, transaction.atomic():
        folder = Path(tmp)
        (folder / "77.json").write_bytes(raw)
        (folder / "1.json").write_text(dump(make_dialogue(evaluation_id=1)), encoding="utf-8")
        report = dataset_import(path=folder)  # must not raise, whatever the bytes
        try:
            parsed = parse_file(raw)
        except DatasetFormatError:
            parsed = None
        assert Feedback.objects.filter(evaluation_id=1).exists()
        if parsed is not None and parsed.evaluation_id != 1:
            assert report.ok and report.imported == 2
            stored = Feedback.objects.get(evaluation_id=parsed.evaluation_id).session
            assert stored.messages.count() == len(parsed.messages)
        else:
            assert [n for n, _ in report.rejected] == ["77.json"] and report.rejected[0][1]
            assert not Profile.objects.filter(dataset_id__in=[CLIENT, COUNSELOR]).exists()
            assert (Session.objects.count(), Message.objects.count(), Feedback.objects.count()) == (1, 6, 1)
        transaction.set_rollback(True)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=structural())
def test_structural_mutations_are_clear_rejections_or_clean_imports(raw):
    _check_import(raw)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=textual())
def test_byte_mutations_are_clear_rejections_or_clean_imports(raw):
    _check_import(raw)
