from django.core.management.base import BaseCommand, CommandError

from models_ml.scoring.records import load_folder
from models_ml.scoring.selectors import labelled_dialogues
from models_ml.scoring.services import DEFAULT_MIN_SESSIONS, TrainingError, scorer_train


class Command(BaseCommand):
    help = "Train the CPU auto-scorer on the labelled sessions of the database (or a KokoroChat folder)."

    def add_arguments(self, parser):
        parser.add_argument("--min-sessions", type=int, default=DEFAULT_MIN_SESSIONS)
        parser.add_argument("--from-folder", default="", help="research use: read a KokoroChat JSON folder")
        parser.add_argument("--seed", type=int, default=0, help="seed of the training/validation split")
        parser.add_argument("--no-activate", action="store_true", help="record the version without activating it")

    def handle(self, *args, **opts):
        if opts["from_folder"]:
            try:
                records, source = load_folder(opts["from_folder"]), f"folder:{opts['from_folder']}"
            except FileNotFoundError as exc:
                raise CommandError(str(exc)) from exc
        else:
            records, source = labelled_dialogues(), "database"
        self.stdout.write(f"{sum(r.labelled for r in records)} labelled sessions ({source})")
        try:
            row = scorer_train(
                records=records,
                min_sessions=opts["min_sessions"],
                seed=opts["seed"],
                activate=not opts["no_activate"],
                source=source,
                log=self.stdout.write,
            )
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
        v = row.metrics.get("validation", {})
        self.stdout.write(
            self.style.SUCCESS(
                f"trained {row.version} on {row.train_size} sessions"
                f"{' (active)' if row.is_active else ''}: validation ACC {v.get('acc', 0):.2f} "
                f"ACC_soft {v.get('acc_soft', 0):.2f} MAE {v.get('mae', 0):.4f}"
            )
        )
