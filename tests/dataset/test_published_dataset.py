"""The published KokoroChat folder: import once per module, then round trip, statistics, subsets."""

import pytest

from feedback.dataset.exporter import export_to_path
from feedback.dataset.importer import dataset_import
from feedback.dataset.selectors import ExportOptions, export_feedback_queryset
from feedback.dataset.stats import dataset_summary
from feedback.models import Feedback
from tests.dataset.conftest import imported_data_delete

pytestmark = [pytest.mark.dataset, pytest.mark.slow, pytest.mark.django_db]

PUBLISHED_FILES = 6589


@pytest.fixture(scope="module")
def published(django_db_setup, django_db_blocker, kokorochat_dir):
    """Import the whole folder once (committed), and remove it again after the module."""
    with django_db_blocker.unblock():
        report = dataset_import(path=kokorochat_dir, chunk_size=1000)
    try:
        yield report
    finally:
        with django_db_blocker.unblock():
            imported_data_delete()


def test_every_published_file_imports_and_exports_byte_for_byte(published, kokorochat_dir, tmp_path):
    assert published.ok, published.rejected[:5]
    assert published.imported == PUBLISHED_FILES and published.messages == 600_939
    out = tmp_path / "export"
    count = export_to_path(out=out, user=None, options=ExportOptions(), fmt="folder")
    assert count == PUBLISHED_FILES
    originals = sorted(p.name for p in kokorochat_dir.glob("*.json"))
    assert sorted(p.name for p in out.iterdir()) == originals
    different = [n for n in originals if (out / n).read_bytes() != (kokorochat_dir / n).read_bytes()]
    assert different == []


def test_reimporting_the_published_folder_adds_nothing(published, kokorochat_dir):
    report = dataset_import(path=kokorochat_dir, chunk_size=2000)
    assert report.ok and report.imported == 0 and report.unchanged == PUBLISHED_FILES
    assert Feedback.objects.count() == PUBLISHED_FILES


def test_statistics_reproduce_the_paper(published):
    s = dataset_summary()
    assert s["dialogues"] == 6589
    assert (s["speakers"], s["counselor_speakers"], s["client_speakers"]) == (480, 424, 463)
    assert s["pairs"] == 4900
    assert (s["messages"], s["counselor"]["n"], s["client"]["n"]) == (600_939, 306_495, 294_444)
    assert (s["messages_per_dialogue"], s["counselor"]["per_dialogue"], s["client"]["per_dialogue"]) == (
        91.20,
        46.52,
        44.69,
    )
    assert (s["chars_per_message"], s["counselor"]["chars_per_message"], s["client"]["chars_per_message"]) == (
        28.39,
        35.84,
        20.63,
    )
    assert (s["score_mean"], s["score_median"]) == (63.58, 64)
    assert list(s["screenings"].values()) == [8, 4, 209] and s["any_screening"] == 215
    assert s["subsets"] == {"all": 6589, "full": 6471, "low": 3870, "high": 2601, "test": 118}


@pytest.mark.parametrize(("subset", "expected"), [("low", 3870), ("high", 2601), ("full", 6471), ("test", 118)])
def test_export_subsets_have_the_published_sizes(published, subset, expected):
    assert export_feedback_queryset(ExportOptions(subset=subset)).count() == expected
