"""KokoroChat response-generation metrics on the test dialogues (feedback score 99–100)."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from models_ml.arena import services
from models_ml.llm.backends import GenerationError


class Command(BaseCommand):
    help = "Generate every counselor turn of the test dialogues and score it (BLEU, ROUGE, Distinct-n)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--backend", default="retrieval", choices=["retrieval", "openai", "hf"])
        parser.add_argument("--model-version", type=int, default=None, help="a counselor ModelVersion id")
        parser.add_argument("--limit", type=int, default=None, help="at most N counselor turns (quick runs)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args, **opts) -> None:
        try:
            report = services.evaluate_generation(
                backend_name=opts["backend"], version_id=opts["model_version"], limit=opts["limit"]
            )
        except (services.ArenaError, GenerationError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(report, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{report['model']}: {report['turns']} turns")
        for mode, row in report["metrics"].items():
            self.stdout.write(f"[{mode}: {report['tokenization'][mode]}]")
            self.stdout.write("  " + "  ".join(f"{k}={v:.3f}" for k, v in row.items()))
