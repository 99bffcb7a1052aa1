"""python manage.py import_kokorochat PATH — import the published KokoroChat folder or zip."""

import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from feedback.dataset.importer import DEFAULT_CHUNK, DatasetSourceError, ImportReport, dataset_import

PROGRESS_EVERY = 500


class Command(BaseCommand):
    help = "Import KokoroChat dialogue files (a folder or a .zip of one) as finished imported sessions."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK)
        parser.add_argument("--quiet", action="store_true", help="no progress lines")

    def handle(self, *args, path: Path, chunk_size: int, quiet: bool, **options):
        started = time.monotonic()
        last = [0]

        def progress(done: int, total: int, report: ImportReport) -> None:
            if quiet or (done - last[0] < PROGRESS_EVERY and done != total):
                return
            last[0] = done
            sys.stderr.write(
                f"{done}/{total} files · {report.imported} imported · {report.skipped_existing} already there"
                f" · {len(report.errors)} errors · {time.monotonic() - started:.1f}s\n"
            )

        try:
            report = dataset_import(path=path, chunk_size=chunk_size, progress=progress)
        except DatasetSourceError as exc:
            raise CommandError(str(exc)) from None
        for name, reason in report.errors:
            self.stderr.write(f"{name}: {reason}")
        summary = (
            f"{report.files} files: {report.imported} imported ({report.messages} messages,"
            f" {report.users_created} new accounts), {report.skipped_existing} already imported,"
            f" {len(report.errors)} rejected in {time.monotonic() - started:.1f}s"
        )
        if report.errors:
            raise CommandError(summary)
        self.stdout.write(summary)
