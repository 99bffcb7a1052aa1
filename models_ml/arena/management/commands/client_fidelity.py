"""Role-card vocabulary overlap of the simulated client's utterances vs a random role-card pairing."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from models_ml.arena import selectors
from models_ml.arena.models import SimulationJob


class Command(BaseCommand):
    help = "Client fidelity of simulated sessions (content words: nouns, verbs, adjectives via fugashi)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--job", type=int, default=None, help="one simulation job (default: all)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts) -> None:
        job = None
        if opts["job"] is not None:
            job = SimulationJob.objects.filter(pk=opts["job"]).first()
            if job is None:
                raise CommandError(f"No simulation job #{opts['job']}.")
        result = selectors.job_fidelity(job, seed=opts["seed"])
        if opts["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
            return
        if not result["sessions"]:
            self.stdout.write("No finished simulated session.")
            return
        self.stdout.write(
            f"{result['sessions']} sessions: own role card {result['matched']:.3f}, "
            f"random other card {result['random'] if result['random'] is not None else float('nan'):.3f}"
        )
