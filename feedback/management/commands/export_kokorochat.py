"""python manage.py export_kokorochat OUT — export sessions with feedback in the KokoroChat format."""

import time
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from feedback.dataset.errors import ExportTargetError
from feedback.dataset.exporter import MULTILINGUAL, export_to_path, export_translations_to_path
from feedback.dataset.multilingual import LANGUAGE_RE, ORIGINAL_LANGUAGE
from feedback.dataset.selectors import FORMATS, SUBSETS, ExportOptions, export_without_messages_count
from feedback.dataset.source import display_name

BAD_DATE = gettext_noop("bad date %(value)s (expected YYYY-MM-DD)")
DONE = gettext_noop("exported %(count)s dialogues (%(fmt)s) to %(out)s in %(seconds).1f s")
NO_MESSAGES = gettext_noop("left out %(n)s session(s) without messages (a dataset record needs at least one)")
SKIPPED = gettext_noop("left out evaluation id %(id)s: %(reason)s")
LANGUAGE_NEEDED = gettext_noop("--format multilingual needs --language (the translation's language code, e.g. en)")
LANGUAGE_UNUSED = gettext_noop("--language goes with --format multilingual only")
BAD_LANGUAGE = gettext_noop("bad language code %(value)s (expected a code such as en or zh, not ja)")


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(_(BAD_DATE) % {"value": repr(value)}) from None


def _check_language(fmt: str, language: str | None) -> None:
    if fmt == MULTILINGUAL and not language:
        raise CommandError(_(LANGUAGE_NEEDED))
    if fmt != MULTILINGUAL and language:
        raise CommandError(_(LANGUAGE_UNUSED))
    if language and (not LANGUAGE_RE.fullmatch(language) or language.lower() == ORIGINAL_LANGUAGE):
        raise CommandError(_(BAD_LANGUAGE) % {"value": repr(language)})


class Command(BaseCommand):
    help = "Export sessions that have feedback in the published KokoroChat format."

    def add_arguments(self, parser):
        parser.add_argument("out", type=Path, help="a new or empty folder (--format folder) or a new file")
        parser.add_argument("--subset", choices=list(SUBSETS), default="all")
        parser.add_argument("--quality-filter", action="store_true", help="≥30 messages, ≥30 min, not all items 3")
        parser.add_argument("--since", type=str, help="first session date, YYYY-MM-DD (inclusive)")
        parser.add_argument("--until", type=str, help="last session date, YYYY-MM-DD (inclusive)")
        parser.add_argument("--include-synthetic", action="store_true", help="include LLM-generated sessions")
        parser.add_argument("--format", choices=(*FORMATS, MULTILINGUAL), default="folder", dest="fmt")
        parser.add_argument(
            "--language", help="with --format multilingual: the translation to write as {LANG}{id}.json (en, zh, ...)"
        )
        parser.add_argument(
            "--overwrite", action="store_true", help="replace an existing OUT (a folder: only one of .json files)"
        )
        parser.add_argument(
            "--lang",
            choices=[code for code, _name in settings.LANGUAGES],
            help="language of the messages (default: the active language)",
        )

    def handle(self, *args, lang: str | None, **options):
        with translation.override(lang or translation.get_language()):
            self._run(**options)

    def _run(
        self, *, out: Path, subset, quality_filter, since, until, include_synthetic, fmt, overwrite, language, **options
    ):
        _check_language(fmt, language)
        opts = ExportOptions(
            subset=subset,
            quality_filter=quality_filter,
            since=_date(since) if since else None,
            until=_date(until) if until else None,
            include_synthetic=include_synthetic,
        )
        started = time.monotonic()
        skipped: list[tuple[int, str]] = []
        try:
            if fmt == MULTILINGUAL:
                count = export_translations_to_path(
                    out=out, user=None, options=opts, language=language, overwrite=overwrite, skipped=skipped
                )
            else:
                count = export_to_path(out=out, user=None, options=opts, fmt=fmt, overwrite=overwrite, skipped=skipped)
        except ExportTargetError as exc:
            raise CommandError(str(exc.message)) from None
        without_messages = export_without_messages_count(opts)
        if without_messages:
            self.stderr.write(_(NO_MESSAGES) % {"n": without_messages})
        for evaluation_id, reason in skipped:
            self.stderr.write(_(SKIPPED) % {"id": evaluation_id, "reason": reason})
        params = {"count": count, "fmt": fmt, "out": display_name(str(out)), "seconds": time.monotonic() - started}
        self.stdout.write(_(DONE) % params)
