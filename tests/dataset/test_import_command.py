"""The import command: summary line, exit status, one language, chunk size; a real process killed mid-import."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import translation

from feedback.dataset import errors
from feedback.dataset.exporter import export_to_path
from feedback.dataset.selectors import ExportOptions
from feedback.models import Feedback
from roleplay.models import Message, Session

from .conftest import dump, hostile_files, make_dialogue, write_files

ROOT = Path(__file__).resolve().parents[2]
SUMMARY_EN = "{} files: {} imported, {} unchanged, {} rejected"


def _call(*args) -> tuple[str, str, CommandError | None]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("import_kokorochat", *map(str, args), stdout=out, stderr=err)
    except CommandError as exc:
        return out.getvalue(), err.getvalue(), exc
    return out.getvalue(), err.getvalue(), None


@pytest.mark.django_db
def test_summary_line_and_exit_status_1_when_a_file_is_rejected(tmp_path):
    write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1), "2.json": "{}"})
    out, err, exc = _call(tmp_path, "--lang", "en")
    assert exc is not None and exc.returncode == 1
    assert SUMMARY_EN.format(2, 1, 0, 1) in out.splitlines()
    with translation.override("en"):
        assert "2.json: " + str(errors.ERR_MISSING_KEY) % {"key": "dialogue", "field": "the file"} in err
    assert "2/2 files" in err  # the progress line
    out, _err, exc = _call(tmp_path, "--lang", "en", "--quiet")
    assert SUMMARY_EN.format(2, 0, 1, 1) in out.splitlines() and exc.returncode == 1


@pytest.mark.django_db
def test_good_input_exits_0_with_the_summary(tmp_path):
    write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1)})
    out, _err, exc = _call(tmp_path, "--quiet", "--lang", "en")
    assert exc is None and SUMMARY_EN.format(1, 1, 0, 0) in out.splitlines()


@pytest.mark.django_db
def test_messages_speak_one_language_japanese_by_default(tmp_path):
    bad = make_dialogue(evaluation_id=2)
    bad["review_by_client_jp"]["点数"] = bad["review_by_client_en"]["score"] = "73"
    write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1), "2.json": bad, "3.json": "{}"})
    out, err, exc = _call(tmp_path)  # LANGUAGE_CODE = "ja"
    assert settings.LANGUAGE_CODE == "ja" and exc is not None
    with translation.override("ja"):
        string_for_number = str(errors.ERR_STRING_FOR_NUMBER) % {
            "field": "review_by_client_jp.点数",
            "value": '"73"',
            "min": 0,
            "max": 100,
        }
        missing = str(errors.ERR_MISSING_KEY) % {"key": "dialogue", "field": str(errors.THE_FILE_LABEL)}
    assert f"2.json: {string_for_number}" in err and f"3.json: {missing}" in err
    for english in ("must be", "missing key", "the file", "files:", "imported", "rejected", "unchanged"):
        assert english not in out + err, english
    out_en, err_en, _exc = _call(tmp_path, "--lang", "en")
    assert "not the string" in err_en and "missing key" in err_en and "unchanged" in out_en


@pytest.mark.django_db
@pytest.mark.parametrize("size", ["0", "-1", "abc", "10001"])
def test_chunk_size_is_checked(tmp_path, size):
    write_files(tmp_path, {"1.json": make_dialogue(evaluation_id=1)})
    with translation.override("en"), pytest.raises(CommandError) as exc:
        call_command("import_kokorochat", str(tmp_path), "--chunk-size", size)
    with translation.override("en"):
        assert str(exc.value) == str(errors.ERR_CHUNK_SIZE) % {"max": 10_000, "value": size}
    with pytest.raises(CommandError) as exc:  # Japanese by default, and nothing else
        call_command("import_kokorochat", str(tmp_path), "--chunk-size", size)
    with translation.override("ja"):
        assert str(exc.value) == str(errors.ERR_CHUNK_SIZE) % {"max": 10_000, "value": size}
    assert Feedback.objects.count() == 0


def _subprocess_env() -> dict[str, str]:
    """The environment of a manage.py process that uses this test's (committed) database."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
        if db.get("PASSWORD"):
            url = url.replace("@", f":{db['PASSWORD']}@", 1)
    else:
        url = f"sqlite:///{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "kokoro_site.settings.test"}


def _manage(*args) -> list[str]:
    return [sys.executable, str(ROOT / "manage.py"), *map(str, args)]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_no_input_ends_in_a_traceback_and_every_rejection_is_listed(tmp_path):
    hostile = hostile_files(base_id=500)
    for n in range(1, 6):
        write_files(tmp_path, {f"{n}.json": make_dialogue(evaluation_id=n)})
    for name, (raw, _needle) in hostile.items():
        (tmp_path / name).write_bytes(raw)
    (tmp_path / "².json").write_text(dump(make_dialogue(evaluation_id=9)), encoding="utf-8")
    done = subprocess.run(
        _manage("import_kokorochat", tmp_path, "--chunk-size", "3", "--lang", "en"),
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    assert SUMMARY_EN.format(6 + len(hostile), 6, 0, len(hostile)) in done.stdout.splitlines()
    for name in hostile:
        assert f"\n{name}: " in "\n" + done.stderr, name
    assert Feedback.objects.count() == 6


LONG_LINES = tuple(
    ("counselor" if i % 2 == 0 else "client", f"発言{i}番目の少し長めの文章です。" * 3) for i in range(150)
)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_import_leaves_whole_files_and_a_rerun_completes_it(tmp_path):
    src = tmp_path / "src"
    total = 240
    write_files(
        src,
        {f"{n}.json": make_dialogue(evaluation_id=n, client_id=n % 17 + 1, lines=LONG_LINES) for n in range(1, 241)},
    )
    args = _manage("import_kokorochat", src, "--chunk-size", "4", "--quiet")
    proc = subprocess.Popen(args, env=_subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while Feedback.objects.count() < 12 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    at_kill = Feedback.objects.count()
    assert proc.returncode == -signal.SIGKILL and 0 < at_kill < total, at_kill
    # Whole files only: every stored session has all its messages and its feedback.
    assert Session.objects.count() == at_kill
    assert Message.objects.count() == at_kill * len(LONG_LINES)

    rerun = subprocess.run(
        [*args, "--lang", "en"], env=_subprocess_env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert rerun.returncode == 0, rerun.stderr
    assert SUMMARY_EN.format(total, total - at_kill, at_kill, 0) in rerun.stdout.splitlines()
    assert (Session.objects.count(), Feedback.objects.count()) == (total, total)
    assert Message.objects.count() == total * len(LONG_LINES)
    out = tmp_path / "out"
    assert export_to_path(out=out, user=None, options=ExportOptions(), fmt="folder") == total
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in src.iterdir())
    assert all((out / p.name).read_bytes() == p.read_bytes() for p in src.iterdir())
