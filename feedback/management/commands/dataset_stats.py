"""python manage.py dataset_stats [--json] — the KokoroChat paper's dataset figures from the database."""

import json

from django.core.management.base import BaseCommand

from feedback.dataset.stats import dataset_correlations, dataset_summary


class Command(BaseCommand):
    help = "Dataset statistics (dialogues, speakers, messages, scores, screenings, subsets)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--correlations", action="store_true", help="also Spearman correlations (slower)")

    def handle(self, *args, json: bool, correlations: bool, **options):
        stats = dataset_summary()
        if correlations:
            stats["correlations"] = dataset_correlations()
        if json:
            self.stdout.write(_dumps(stats))
            return
        c, k = stats["counselor"], stats["client"]
        lines = [
            f"dialogues            {stats['dialogues']}",
            f"speakers             {stats['speakers']} (counselor role {stats['counselor_speakers']},"
            f" client role {stats['client_speakers']})",
            f"counselor-client pairs {stats['pairs']}",
            f"messages             {stats['messages']} (counselor {c['n']}, client {k['n']})",
            f"messages / dialogue  {stats['messages_per_dialogue']} ({c['per_dialogue']} / {k['per_dialogue']})",
            f"chars / message      {stats['chars_per_message']} ({c['chars_per_message']} / {k['chars_per_message']})",
            f"score                mean {stats['score_mean']}, median {stats['score_median']}",
            f"screenings           {' / '.join(str(v) for v in stats['screenings'].values())}"
            f" ({stats['any_screening']} dialogues with any)",
            f"subsets              {', '.join(f'{n} {v}' for n, v in stats['subsets'].items())}",
        ]
        self.stdout.write("\n".join(lines))


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2)
