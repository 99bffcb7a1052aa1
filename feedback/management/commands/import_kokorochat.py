"""python manage.py import_kokorochat PATH — import the published KokoroChat folder or zip."""

import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from feedback.dataset.errors import ERR_CHUNK_SIZE, DatasetSourceError
from feedback.dataset.importer import DEFAULT_CHUNK, MAX_CHUNK, ImportReport, check_chunk_size, dataset_import

PROGRESS_EVERY = 500
SUMMARY = gettext_noop("%(files)s files: %(imported)s imported, %(unchanged)s unchanged, %(rejected)s rejected")
DETAILS = gettext_noop("%(updated)s replaced, %(messages)s messages, %(users)s new accounts, %(seconds).1f s")
PROGRESS = gettext_noop(
    "%(done)s/%(total)s files · %(imported)s imported · %(unchanged)s unchanged · %(rejected)s rejected · %(seconds).1f s"
)
REJECTED = gettext_noop("%(n)s file(s) rejected (listed above)")
TRANSLATED = gettext_noop("%(n)s translated messages attached")


def _chunk_size(value: str) -> int:
    """The --chunk-size value, or a CommandError in the run's language."""
    try:
        return check_chunk_size(int(value))
    except (ValueError, DatasetSourceError):
        raise CommandError(str(ERR_CHUNK_SIZE) % {"max": MAX_CHUNK, "value": value}) from None


def summary_line(report: ImportReport) -> str:
    return _(SUMMARY) % {
        "files": report.files,
        "imported": report.imported,
        "unchanged": report.unchanged,
        "rejected": len(report.rejected),
    }


class Command(BaseCommand):
    help = "Import KokoroChat dialogue files (a folder or a .zip of one) as finished imported sessions."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--chunk-size", default=str(DEFAULT_CHUNK), help=f"files per transaction (1-{MAX_CHUNK})")
        parser.add_argument(
            "--update", action="store_true", help="replace imported dialogues whose file changed (else a conflict)"
        )
        parser.add_argument(
            "--lang",
            choices=[code for code, _name in settings.LANGUAGES],
            help="language of the messages (default: the active language)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress lines")

    def handle(self, *args, path: Path, chunk_size: str, update: bool, lang: str | None, quiet: bool, **options):
        with translation.override(lang or translation.get_language()):
            self._run(path, _chunk_size(chunk_size), update, quiet)

    def _run(self, path: Path, chunk_size: int, update: bool, quiet: bool) -> None:
        started = time.monotonic()
        last = [0]

        def progress(done: int, total: int, report: ImportReport) -> None:
            if quiet or (done - last[0] < PROGRESS_EVERY and done != total):
                return
            last[0] = done
            params = {
                "done": done,
                "total": total,
                "imported": report.imported,
                "unchanged": report.unchanged,
                "rejected": len(report.rejected),
                "seconds": time.monotonic() - started,
            }
            self.stderr.write(_(PROGRESS) % params)
            self.stderr.flush()

        try:
            report = dataset_import(path=path, chunk_size=chunk_size, update=update, progress=progress)
        except DatasetSourceError as exc:
            raise CommandError(str(exc.message)) from None
        for name, reason in report.rejected:
            self.stderr.write(f"{name}: {reason}")
        self.stdout.write(summary_line(report))
        details = {
            "updated": report.updated,
            "messages": report.messages,
            "users": report.users_created,
            "seconds": time.monotonic() - started,
        }
        self.stdout.write(_(DETAILS) % details)
        if report.translations:
            self.stdout.write(_(TRANSLATED) % {"n": report.translations})
        if report.rejected:
            raise CommandError(_(REJECTED) % {"n": len(report.rejected)}, returncode=1)
