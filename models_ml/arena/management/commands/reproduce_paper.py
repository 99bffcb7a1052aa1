"""Markdown tables shaped like the KokoroChat paper's Tables 4 and 5 and the Interactive Agents client and
counselor tables, for whichever backends are configured (models_ml.arena.reproduce)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from models_ml.arena import reproduce


def _seeds(value: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in value.split(",") if s.strip())
    except ValueError as exc:
        raise CommandError(f"--seeds must be comma-separated integers: {value!r}") from exc
    if not seeds:
        raise CommandError("--seeds is empty")
    return seeds


class Command(BaseCommand):
    help = "Write the papers' result tables (KokoroChat Tables 4 and 5, Interactive Agents client/counselor)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=None, help="Table 4: at most N counselor turns per model")
        parser.add_argument("--seeds", default="0,1,2,3,4", help="Table 5: seeds of the CPU scorer (paper: 5)")
        parser.add_argument("--test-seed", type=int, default=0, help="Table 5: the test split's seed")
        parser.add_argument("--skip-generation", action="store_true", help="leave Table 4 out")
        parser.add_argument("--skip-scorer", action="store_true", help="leave Table 5 out")
        parser.add_argument("--out", default="", help="Markdown path (default under artifacts/reports/)")

    def handle(self, *args, **opts) -> None:
        if opts["limit"] is not None and opts["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        text = reproduce.report(
            limit=opts["limit"],
            seeds=_seeds(opts["seeds"]),
            test_seed=opts["test_seed"],
            skip_generation=opts["skip_generation"],
            skip_scorer=opts["skip_scorer"],
            log=self.stderr.write,
        )
        path = (
            Path(opts["out"])
            if opts["out"]
            else Path(settings.KOKORO_ARTIFACTS_DIR) / "reports" / f"paper-tables-{timezone.now():%Y%m%d-%H%M%S}.md"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        self.stdout.write(text)
        self.stdout.write(f"\nreport: {path}")
