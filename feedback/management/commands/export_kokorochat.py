"""python manage.py export_kokorochat OUT — export sessions with feedback in the KokoroChat format."""

import sys
import time
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from feedback.dataset.exporter import export_to_path
from feedback.dataset.selectors import FORMATS, SUBSETS, ExportOptions


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"bad date {value!r} (expected YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Export sessions that have feedback in the published KokoroChat format."

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="a folder (--format folder) or a file")
        parser.add_argument("--subset", choices=list(SUBSETS), default="all")
        parser.add_argument("--quality-filter", action="store_true", help="≥30 messages, ≥30 min, not all items 3")
        parser.add_argument("--since", type=str, help="first session date, YYYY-MM-DD (inclusive)")
        parser.add_argument("--until", type=str, help="last session date, YYYY-MM-DD (inclusive)")
        parser.add_argument("--include-synthetic", action="store_true", help="include LLM-generated sessions")
        parser.add_argument("--format", choices=FORMATS, default="folder", dest="fmt")

    def handle(self, *args, out: Path, subset, quality_filter, since, until, include_synthetic, fmt, **options):
        opts = ExportOptions(
            subset=subset,
            quality_filter=quality_filter,
            since=_date(since) if since else None,
            until=_date(until) if until else None,
            include_synthetic=include_synthetic,
        )
        started = time.monotonic()
        count = export_to_path(out=out, user=None, options=opts, fmt=fmt)
        sys.stderr.flush()
        self.stdout.write(f"exported {count} dialogues ({fmt}) to {out} in {time.monotonic() - started:.1f}s")
