"""The published Multilingual KokoroChat English folder: import on its own, export, byte compare.

Skips with the reason when the folder is absent; with ``CI`` set, a missing folder fails.
"""

import time

import pytest

from feedback.dataset.exporter import export_to_path, export_translations_to_path
from feedback.dataset.importer import dataset_import
from feedback.dataset.selectors import ExportOptions
from roleplay.models import Message, MessageTranslation
from tests.dataset.conftest import imported_data_delete

pytestmark = [pytest.mark.dataset, pytest.mark.slow, pytest.mark.django_db]

ENGLISH_FILES = 6582  # the Japanese set less 7 dialogues


@pytest.fixture(scope="module")
def english(django_db_setup, django_db_blocker, multilingual_en_dir):
    """Import the English folder alone (committed, timed), and remove everything after the module."""
    with django_db_blocker.unblock():
        started = time.monotonic()
        report = dataset_import(path=multilingual_en_dir)
        seconds = time.monotonic() - started
    try:
        yield report, seconds
    finally:
        with django_db_blocker.unblock():
            imported_data_delete()


def test_the_english_folder_imports_alone_and_exports_byte_for_byte(english, multilingual_en_dir, tmp_path):
    report, seconds = english
    assert report.ok, report.rejected[:5]
    assert report.imported == ENGLISH_FILES and report.translations == report.messages
    assert MessageTranslation.objects.filter(language="en").count() == Message.objects.count() == report.messages
    print(f"\nimport of {ENGLISH_FILES} English files: {seconds:.1f} s")
    started = time.monotonic()
    out = tmp_path / "en"
    skipped: list = []
    count = export_translations_to_path(out=out, user=None, options=ExportOptions(), language="en", skipped=skipped)
    print(f"export: {time.monotonic() - started:.1f} s")
    assert (count, skipped) == (ENGLISH_FILES, [])
    originals = sorted(p.name for p in multilingual_en_dir.glob("*.json"))
    assert sorted(p.name for p in out.iterdir()) == originals
    different = [n for n in originals if (out / n).read_bytes() != (multilingual_en_dir / n).read_bytes()]
    assert different == []


def test_the_japanese_created_from_the_translations_is_the_published_japanese(english, kokorochat_dir, tmp_path):
    out = tmp_path / "jp"
    assert export_to_path(out=out, user=None, options=ExportOptions(), fmt="folder") == ENGLISH_FILES
    different = [p.name for p in out.iterdir() if p.read_bytes() != (kokorochat_dir / p.name).read_bytes()]
    assert different == []


def test_reimporting_the_english_folder_adds_nothing(english, multilingual_en_dir):
    report = dataset_import(path=multilingual_en_dir, chunk_size=2000)
    assert report.ok and report.imported == 0 and report.unchanged == ENGLISH_FILES
