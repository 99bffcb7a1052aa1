import io
import json
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback.dataset import schema
from feedback.dataset.importer import DatasetSourceError, dataset_import, dataset_username
from feedback.models import Feedback
from roleplay.models import EndReason, Message, Profile, Session, SessionSource, SessionStatus

from .conftest import dump, make_dialogue, write_files

TOKYO = ZoneInfo("Asia/Tokyo")
pytestmark = pytest.mark.django_db


def _counts() -> tuple[int, int, int]:
    return Session.objects.count(), Message.objects.count(), Feedback.objects.count()


def test_import_creates_finished_imported_session_with_messages_and_feedback(tmp_path):
    write_files(tmp_path, {"5.json": make_dialogue(evaluation_id=5, client_id=11, counselor_id=22)})
    report = dataset_import(path=tmp_path)
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
    dataset_import(path=tmp_path)
    profiles = Profile.objects.filter(dataset_id__in=[7, 8])
    assert profiles.count() == 2
    for p in profiles:
        assert p.research_id == p.dataset_id and not p.user.has_usable_password()
    s1, s2 = (Feedback.objects.get(evaluation_id=i).session for i in (1, 2))
    assert s1.client_id == s2.counselor_id and s1.counselor_id == s2.client_id


def test_reimport_stores_nothing_twice(tmp_path):
    write_files(tmp_path, {f"{i}.json": make_dialogue(evaluation_id=i) for i in (1, 2, 3)})
    dataset_import(path=tmp_path)
    before = _counts()
    report = dataset_import(path=tmp_path)
    assert report.imported == 0 and report.skipped_existing == 3 and report.ok
    assert _counts() == before
    assert get_user_model().objects.filter(username__startswith="kc-").count() == 2


def test_malformed_files_are_reported_and_the_rest_imported(tmp_path):
    bad_item = make_dialogue(evaluation_id=3)
    for review in ("review_by_client_jp", "review_by_client_en"):
        key = list(bad_item[review])[5]
        bad_item[review][key] = 9
    write_files(
        tmp_path,
        {
            "1.json": make_dialogue(evaluation_id=1),
            "2.json": '{"dialogue": [',
            "3.json": bad_item,
            "4.json": make_dialogue(evaluation_id=4, client_id=555, counselor_id=556),
        },
    )
    report = dataset_import(path=tmp_path, chunk_size=2)
    assert report.imported == 2
    assert [name for name, _ in report.errors] == ["2.json", "3.json"]
    assert Feedback.objects.filter(evaluation_id=3).count() == 0
    assert set(Feedback.objects.values_list("evaluation_id", flat=True)) == {1, 4}
    assert _counts() == (2, 12, 2)


def test_bad_file_creates_no_accounts(tmp_path):
    bad = make_dialogue(evaluation_id=9, client_id=901, counselor_id=902)
    bad["dialogue"][0]["role"] = "narrator"
    write_files(tmp_path, {"9.json": bad})
    report = dataset_import(path=tmp_path)
    assert report.errors == [("9.json", str(schema.ERR_UNKNOWN_ROLE) % {"n": 1, "role": "narrator"})]
    assert not Profile.objects.filter(dataset_id__in=[901, 902]).exists()
    assert _counts() == (0, 0, 0)


def test_duplicate_evaluation_id_in_one_import_is_an_error(tmp_path):
    write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1), "1-copy.json": make_dialogue(evaluation_id=1)})
    report = dataset_import(path=tmp_path)
    assert report.imported == 1 and len(report.errors) == 1
    assert Feedback.objects.count() == 1


def test_zip_of_a_folder_is_imported(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("kokorochat_dialogues/1.json", dump(make_dialogue(evaluation_id=1)))
        zf.writestr("kokorochat_dialogues/2.json", dump(make_dialogue(evaluation_id=2)))
        zf.writestr("__MACOSX/kokorochat_dialogues/._1.json", "junk")
    path = tmp_path / "data.zip"
    path.write_bytes(buf.getvalue())
    report = dataset_import(path=path)
    assert report.ok and report.imported == 2 and report.files == 2


def test_unusable_path_is_refused(tmp_path):
    (tmp_path / "x.zip").write_text("not a zip")
    with pytest.raises(DatasetSourceError) as bad_zip:
        dataset_import(path=tmp_path / "x.zip")
    with pytest.raises(DatasetSourceError) as missing:
        dataset_import(path=tmp_path / "missing")
    assert (bad_zip.value.code, missing.value.code) == ("bad_zip", "not_found")


def test_command_reports_bad_files_and_exits_non_zero(tmp_path, capsys):
    write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1), "2.json": "{}"})
    with pytest.raises(CommandError) as exc:
        call_command("import_kokorochat", str(tmp_path))
    assert "1 imported" in str(exc.value) and "1 rejected" in str(exc.value)
    err = capsys.readouterr().err
    assert "2.json: " + str(schema.ERR_MISSING_KEY) % {"key": "dialogue", "where": "the file"} in err
    assert "2/2 files" in err  # progress line
    assert Feedback.objects.filter(evaluation_id=1).exists()


def test_command_succeeds_quietly_on_good_input(tmp_path, capsys):
    write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1)})
    call_command("import_kokorochat", str(tmp_path), "--quiet")
    assert "1 imported" in capsys.readouterr().out


# --- property test: any structural damage is a clear error and stores nothing ---------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 200) | st.text(max_size=5),
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


@st.composite
def damaged(draw):
    obj = make_dialogue(evaluation_id=77, client_id=3001, counselor_id=3002)
    paths = [p for p in _paths(obj) if p]
    path = draw(st.sampled_from(paths))
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return obj


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(obj=damaged())
def test_damaged_structures_are_clear_errors_and_nothing_half_saved(obj):
    with tempfile.TemporaryDirectory() as tmp, transaction.atomic():
        folder = write_files(Path(tmp), {"77.json": obj, "1.json": make_dialogue(evaluation_id=1)})
        report = dataset_import(path=folder)
        try:
            parsed = schema.validate_dialogue(json.dumps(obj, ensure_ascii=False))
        except schema.DatasetFormatError:
            parsed = None
        if parsed is not None and parsed.evaluation_id != 1:
            assert report.ok and report.imported == 2
        else:
            assert [n for n, _ in report.errors] == ["77.json"] and report.errors[0][1]
            assert not Feedback.objects.filter(evaluation_id=77).exists()
            assert not Profile.objects.filter(dataset_id__in=[3001, 3002]).exists()
            assert _counts() == (1, 6, 1)
        transaction.set_rollback(True)
