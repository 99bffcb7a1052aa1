"""The coaching signals checked on the published data: tagger precision/recall against hand labels, Spearman
correlations with the total score, and the live-hint thresholds from the High-scored sessions."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from models_ml.coaching import signal_study


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


class Command(BaseCommand):
    help = "Check the coaching signals on a KokoroChat folder (taggers vs labels, correlations, thresholds)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", help="the kokorochat_dialogues folder (one JSON per dialogue)")
        parser.add_argument("--labels", default="", help="CSV of hand labels (tests/fixtures/coaching_labels.csv)")
        parser.add_argument("--limit", type=int, default=None, help="at most N dialogues (seeded random sample)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--quantile", type=float, default=signal_study.DEFAULT_QUANTILE)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts) -> None:
        folder = Path(opts["folder"])
        if not folder.is_dir() or not any(folder.glob("*.json")):
            raise CommandError(f"No dialogue JSON files in {folder}.")
        if not 0.5 <= opts["quantile"] < 1:
            raise CommandError("--quantile must be in [0.5, 1).")
        if opts["labels"] and not Path(opts["labels"]).is_file():
            raise CommandError(f"The labels file {opts['labels']} does not exist.")
        try:
            result = signal_study.study(
                folder,
                labels=opts["labels"] or None,
                limit=opts["limit"],
                seed=opts["seed"],
                quantile=opts["quantile"],
                log=self.stderr.write,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if opts["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))
            return
        c = result["correlations"]
        self.stdout.write(f"Spearman with the total score ({c['sessions']} sessions):")
        for stat in signal_study.STATS:
            p = "-" if c[stat]["p"] is None else f"{c[stat]['p']:.1e}"
            self.stdout.write(f"  {stat}: rho {_fmt(c[stat]['rho'])} (p {p}, n {c[stat]['n']})")
        t = result["thresholds"]
        self.stdout.write(
            f"Thresholds (quantile {t['quantile']} of {t['counselor_messages']} counselor messages in "
            f"{t['sessions']} High sessions): long_reply > {t['long_reply_chars']} chars, slow_response > "
            f"{t['slow_response_s']} s, question_streak >= {t['question_streak']}"
        )
        if "taggers" in result:
            g = result["taggers"]
            self.stdout.write(
                f"Taggers vs hand labels ({g['messages']} counselor messages, {g['dialogues']} dialogues):"
            )
            for s in signal_study.SIGNALS:
                row = g[s]
                self.stdout.write(
                    f"  {s}: precision {_fmt(row['precision'])}, recall {_fmt(row['recall'])}, "
                    f"F1 {_fmt(row['f1'])} ({row['positives']} labelled positives)"
                )
