"""Simulated (synthetic) sessions in the KokoroChat file layout, without the client review (they have none)."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from models_ml.arena.exporting import simulated_objects


class Command(BaseCommand):
    help = "Write one <session id>.json per simulated session: dialogue + topic; the review fields are null."

    def add_arguments(self, parser) -> None:
        parser.add_argument("out", help="output folder (created)")
        parser.add_argument("--job", type=int, default=None, help="only this simulation job")

    def handle(self, *args, **opts) -> None:
        out = Path(opts["out"])
        out.mkdir(parents=True, exist_ok=True)
        count = 0
        for session_id, obj in simulated_objects(job_id=opts["job"]):
            (out / f"sim-{session_id}.json").write_text(json.dumps(obj, ensure_ascii=False, indent=2), encoding="utf-8")
            count += 1
        self.stdout.write(f"{count} simulated sessions written to {out}")
