import io
import os
import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation

from feedback.dataset import errors
from feedback.dataset.errors import DatasetSourceError
from feedback.dataset.importer import dataset_import, dataset_username
from feedback.models import Feedback
from roleplay.models import EndReason, Message, Profile, Session, SessionSource, SessionStatus
from tests.factories import UserFactory

from .conftest import dump, hostile_files, make_dialogue, set_both, write_files

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, int, int]:
    return Session.objects.count(), Message.objects.count(), Feedback.objects.count()


def _import(path, **kwargs):
    with translation.override("en"):
        return dataset_import(path=path, **kwargs)


def test_import_creates_finished_imported_session_with_messages_and_feedback(tmp_path):
    write_files(tmp_path, {"5.json": make_dialogue(evaluation_id=5, client_id=11, counselor_id=22)})
    report = _import(tmp_path)
    assert report.ok and report.imported == 1 and report.messages == 6 and report.users_created == 2
    fb = Feedback.objects.select_related("session").get(evaluation_id=5)
    s = fb.session
    assert (s.status, s.source, s.end_reason) == (SessionStatus.ENDED, SessionSource.IMPORTED, EndReason.IMPORTED)
    assert s.starts_at == s.started_at == datetime(2024, 5, 1, 10, 0, tzinfo=TOKYO)
    assert s.ended_at == datetime(2024, 5, 1, 10, 5, tzinfo=TOKYO)
    assert s.duration_minutes == 5 and s.last_seq == 6
    assert (s.topic, s.topic_sub) == ("workplace", "上司との関係")
    assert fb.total == 73 and fb.created_at == datetime(2024, 5, 1, 11, 30, tzinfo=TOKYO)
    assert fb.client.username == dataset_username(11) and fb.counselor.username == dataset_username(22)
    assert fb.client_id == s.client_id and fb.counselor_id == s.counselor_id
    msgs = list(s.messages.order_by("seq"))
    assert [m.seq for m in msgs] == [1, 2, 3, 4, 5, 6]
    assert msgs[1].role == "client" and msgs[1].sender_id == s.client_id and msgs[0].sender_id == s.counselor_id
    assert msgs[1].text == "最近、仕事のことで少し疲れています。"


def test_one_pseudonymous_account_per_dataset_id_across_roles(tmp_path):
    write_files(
        tmp_path,
        {
            "1.json": make_dialogue(evaluation_id=1, client_id=7, counselor_id=8),
            "2.json": make_dialogue(evaluation_id=2, client_id=8, counselor_id=7),
        },
    )
    _import(tmp_path)
    profiles = Profile.objects.filter(dataset_id__in=[7, 8])
    assert profiles.count() == 2
    for p in profiles:
        assert p.research_id == p.dataset_id and not p.user.has_usable_password()
    s1, s2 = (Feedback.objects.get(evaluation_id=i).session for i in (1, 2))
    assert s1.client_id == s2.counselor_id and s1.counselor_id == s2.client_id


def test_reimport_of_the_same_files_is_unchanged_and_stores_nothing_twice(tmp_path):
    write_files(tmp_path, {f"{i}.json": make_dialogue(evaluation_id=i) for i in (1, 2, 3)})
    _import(tmp_path)
    before = _counts()
    report = _import(tmp_path)
    assert report.imported == 0 and report.unchanged == 3 and report.ok
    assert _counts() == before
    assert get_user_model().objects.filter(username__startswith="kc-").count() == 2


def test_same_content_in_another_layout_is_unchanged(tmp_path):
    write_files(tmp_path / "a", {"1.json": make_dialogue(evaluation_id=1)})
    _import(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "1.json").write_text(json_compact(make_dialogue(evaluation_id=1)), encoding="utf-8")
    report = _import(tmp_path / "b")
    assert report.unchanged == 1 and report.ok


def json_compact(obj) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False)


def test_changed_file_with_a_known_id_is_a_conflict_and_update_replaces_it(tmp_path):
    write_files(tmp_path / "a", {"1.json": make_dialogue(evaluation_id=1), "2.json": make_dialogue(evaluation_id=2)})
    _import(tmp_path / "a")
    changed = make_dialogue(evaluation_id=1, client_id=901, lines=(("counselor", "新しい内容です。"),))
    write_files(tmp_path / "b", {"1.json": changed, "2.json": make_dialogue(evaluation_id=2)})
    report = _import(tmp_path / "b")
    with translation.override("en"):
        assert report.rejected == [("1.json", str(errors.ERR_CONFLICT) % {"value": 1})]
    assert report.unchanged == 1 and Feedback.objects.get(evaluation_id=1).session.messages.count() == 6

    report = _import(tmp_path / "b", update=True)
    assert report.ok and report.imported == 1 and report.updated == 1 and report.unchanged == 1
    fb = Feedback.objects.get(evaluation_id=1)
    assert list(fb.session.messages.values_list("text", flat=True)) == ["新しい内容です。"]
    assert fb.client.username == dataset_username(901)
    assert _counts() == (2, 7, 2)
    assert _import(tmp_path / "b").unchanged == 2  # the replacement is now the stored content


def test_invalid_file_with_a_known_id_is_rejected_not_unchanged(tmp_path):
    write_files(tmp_path / "a", {"1.json": make_dialogue(evaluation_id=1)})
    _import(tmp_path / "a")
    write_files(tmp_path / "b", {"1.json": set_both(make_dialogue(evaluation_id=1), 4, 99)})
    report = _import(tmp_path / "b", update=True)
    assert report.unchanged == 0 and [n for n, _ in report.rejected] == ["1.json"]
    assert "99" in report.rejected[0][1] and Feedback.objects.get(evaluation_id=1).total == 73


def test_a_platform_session_is_never_replaced_by_an_import(tmp_path):
    from tests.factories import FeedbackFactory

    fb = FeedbackFactory(evaluation_id=31, total=60)
    write_files(tmp_path, {"31.json": make_dialogue(evaluation_id=31)})
    report = _import(tmp_path, update=True)
    with translation.override("en"):
        assert report.rejected == [("31.json", str(errors.ERR_NOT_REPLACEABLE) % {"value": 31})]
    assert Feedback.objects.get(evaluation_id=31).session_id == fb.session_id


def test_malformed_files_are_reported_and_the_rest_imported(tmp_path):
    write_files(
        tmp_path,
        {
            "1.json": make_dialogue(evaluation_id=1),
            "2.json": '{"dialogue": [',
            "3.json": set_both(make_dialogue(evaluation_id=3), 5, 9),
            "4.json": make_dialogue(evaluation_id=4, client_id=555, counselor_id=556),
        },
    )
    report = _import(tmp_path, chunk_size=2)
    assert report.imported == 2
    assert [name for name, _ in report.rejected] == ["2.json", "3.json"]
    assert set(Feedback.objects.values_list("evaluation_id", flat=True)) == {1, 4}
    assert _counts() == (2, 12, 2)


def test_bad_file_creates_no_accounts(tmp_path):
    bad = make_dialogue(evaluation_id=9, client_id=901, counselor_id=902)
    bad["dialogue"][0]["role"] = "narrator"
    write_files(tmp_path, {"9.json": bad})
    report = _import(tmp_path)
    with translation.override("en"):
        expected = str(errors.ERR_UNKNOWN_ROLE) % {
            "field": "dialogue[1].role",
            "value": '"narrator"',
            "rule": "counselor, client",
        }
    assert report.rejected == [("9.json", expected)]
    assert not Profile.objects.filter(dataset_id__in=[901, 902]).exists()
    assert _counts() == (0, 0, 0)


def test_duplicate_evaluation_id_in_one_import_is_refused(tmp_path):
    write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1), "1-copy.json": make_dialogue(evaluation_id=1)})
    report = _import(tmp_path)
    assert report.imported == 1 and [n for n, _ in report.rejected] == ["1-copy.json"]
    assert "1.json" in report.rejected[0][1] and Feedback.objects.count() == 1


HOSTILE_AT = (0, 3, 6, 7, 13, 14, 20, 21, 27, 34, 40, 41)  # sort positions among 42 files


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 500])
def test_hostile_files_at_any_chunk_position_cost_no_good_file(tmp_path, chunk_size):
    """30 good files with 12 hostile ones between them: first, middle and last in a chunk."""
    hostile = list(hostile_files(base_id=1000).values())
    expected: dict[str, str] = {}
    good = set()
    for position in range(42):
        name = f"{position}.json"
        if position in HOSTILE_AT:
            raw, needle = hostile[HOSTILE_AT.index(position)]
            (tmp_path / name).write_bytes(raw)
            expected[name] = needle
        else:
            write_files(tmp_path, {name: make_dialogue(evaluation_id=position + 1, client_id=100 + position % 5)})
            good.add(position + 1)
    (tmp_path / "folder.json").mkdir()  # a folder named like a file is no file
    report = _import(tmp_path, chunk_size=chunk_size)
    rejected = dict(report.rejected)
    assert set(rejected) == set(expected)
    for name, needle in expected.items():
        assert needle in rejected[name], (name, rejected[name])
    assert report.imported == 30 and report.files == 42 and report.unchanged == 0
    assert set(Feedback.objects.values_list("evaluation_id", flat=True)) == good
    assert _counts() == (30, 180, 30)


def test_any_file_name_is_imported_by_the_evaluation_id_inside(tmp_path):
    odd = ["².json", "a\nb.json", "日本語.json"]
    write_files(tmp_path, {name: make_dialogue(evaluation_id=41 + i) for i, name in enumerate(odd)})
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "sub" / "deeper" / "9.json").write_text(dump(make_dialogue(evaluation_id=44)), encoding="utf-8")
    raw_name = os.path.join(os.fsencode(tmp_path), b"\xff\xfe.json")
    with open(raw_name, "wb") as fh:  # a name that is not UTF-8
        fh.write(dump(make_dialogue(evaluation_id=45)).encode())
    with open(os.path.join(os.fsencode(tmp_path), b"\xfe-bad.json"), "wb") as fh:
        fh.write(b"{")
    report = _import(tmp_path)
    assert report.imported == 5
    assert set(Feedback.objects.values_list("evaluation_id", flat=True)) == {41, 42, 43, 44, 45}
    assert [n for n, _ in report.rejected] == ["\\xfe-bad.json"]


def test_a_database_refusal_costs_only_its_own_file(tmp_path):
    """A file valid on its own that the database refuses (research id taken) is rejected alone."""
    taken = UserFactory()
    taken.profile.research_id = 4242
    taken.profile.save()
    files = {f"{n}.json": make_dialogue(evaluation_id=n) for n in range(1, 6)}
    files["3.json"] = make_dialogue(evaluation_id=3, client_id=4242)
    write_files(tmp_path, files)
    report = _import(tmp_path, chunk_size=500)
    assert report.imported == 4 and [n for n, _ in report.rejected] == ["3.json"]
    with translation.override("en"):
        assert report.rejected[0][1].startswith(str(errors.ERR_DB_REFUSED).split("%")[0])
    assert set(Feedback.objects.values_list("evaluation_id", flat=True)) == {1, 2, 4, 5}
    assert not Profile.objects.filter(dataset_id=4242).exists()


def test_zip_of_a_folder_is_imported(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("kokorochat_dialogues/1.json", dump(make_dialogue(evaluation_id=1)))
        zf.writestr("kokorochat_dialogues/2.json", dump(make_dialogue(evaluation_id=2)))
        zf.writestr("__MACOSX/kokorochat_dialogues/._1.json", "junk")
    path = tmp_path / "data.zip"
    path.write_bytes(buf.getvalue())
    report = _import(path)
    assert report.ok and report.imported == 2 and report.files == 2


@pytest.mark.parametrize("size", [0, -1, 10_001, "5", True])
def test_chunk_size_outside_1_to_10000_is_refused(tmp_path, size):
    write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1)})
    with pytest.raises(DatasetSourceError):
        _import(tmp_path, chunk_size=size)
    assert Feedback.objects.count() == 0


def test_unusable_path_is_refused(tmp_path):
    (tmp_path / "x.zip").write_text("not a zip")
    with pytest.raises(DatasetSourceError):
        _import(tmp_path / "x.zip")
    with pytest.raises(DatasetSourceError):
        _import(tmp_path / "missing")
