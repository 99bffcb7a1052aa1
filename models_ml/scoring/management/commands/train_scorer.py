from django.core.management.base import BaseCommand, CommandError

from models_ml.scoring.records import load_folder
from models_ml.scoring.selectors import labelled_dialogues
from models_ml.scoring.services import DEFAULT_MIN_SESSIONS, TrainingError, scorer_model_attach_evaluation, scorer_train

EVALUATION_SPLITS = ("random", "client")  # the model page shows both (issue 18)


def _seeds(value: str) -> tuple[int, ...]:
    try:
        seeds = tuple(int(s) for s in value.split(",") if s.strip())
    except ValueError as exc:
        raise CommandError(f"--eval-seeds must be comma-separated integers: {value!r}") from exc
    if not seeds:
        raise CommandError("--eval-seeds is empty")
    return seeds


class Command(BaseCommand):
    help = (
        "Train the CPU auto-scorer on the labelled sessions of the database (or a KokoroChat folder). "
        "Text only by default: the product predicts the session, not the person."
    )

    def add_arguments(self, parser):
        parser.add_argument("--min-sessions", type=int, default=DEFAULT_MIN_SESSIONS)
        parser.add_argument("--from-folder", default="", help="research use: read a KokoroChat JSON folder")
        parser.add_argument("--seed", type=int, default=0, help="seed of the training/validation split")
        parser.add_argument(
            "--language",
            default="ja",
            help="the texts' language: ja (default) or a translation such as en (the imported Multilingual "
            "KokoroChat texts with the same labels; with --from-folder, a multilingual folder's translations); "
            "stored on the version, which scores the sessions held in that language",
        )
        parser.add_argument("--no-activate", action="store_true", help="record the version without activating it")
        parser.add_argument(
            "--with-ids",
            action="store_true",
            help="research only: add one-hot client and counselor ids (learns the rater, not the session)",
        )
        parser.add_argument(
            "--evaluate",
            action="store_true",
            help="also run the evaluation protocol on the random and the client-grouped split and store the "
            "figures with both baselines on the version (shown on the predictions page)",
        )
        parser.add_argument("--eval-seeds", default="0,1,2,3,4", help="seeds of the evaluation (with --evaluate)")
        parser.add_argument("--eval-test-seed", type=int, default=0, help="test seed of the evaluation")

    def handle(self, *args, **opts):
        from models_ml.scoring.features import FeatureConfig

        seeds = _seeds(opts["eval_seeds"]) if opts["evaluate"] else ()
        language = opts["language"]
        if opts["from_folder"]:
            try:
                records = load_folder(opts["from_folder"], translated=language != "ja")
            except FileNotFoundError as exc:
                raise CommandError(str(exc)) from exc
            source = f"folder:{opts['from_folder']}"
        else:
            records = labelled_dialogues() if language == "ja" else labelled_dialogues(language=language)
            source = "database"
        self.stdout.write(f"{sum(r.labelled for r in records)} labelled sessions ({source}, language {language})")
        config = FeatureConfig(use_ids=opts["with_ids"])
        try:
            row = scorer_train(
                records=records,
                min_sessions=opts["min_sessions"],
                seed=opts["seed"],
                activate=not opts["no_activate"],
                source=source,
                config=config,
                log=self.stdout.write,
                language=language,
            )
        except TrainingError as exc:
            raise CommandError(str(exc)) from exc
        v = row.metrics.get("validation", {})
        self.stdout.write(
            self.style.SUCCESS(
                f"trained {row.version} ({row.language}) on {row.train_size} sessions"
                f"{' (active)' if row.is_active else ''}, {'with ids (research)' if config.use_ids else 'text only'}: "
                f"validation ACC {v.get('acc', 0):.2f} ACC_soft {v.get('acc_soft', 0):.2f} MAE {v.get('mae', 0):.4f}"
            )
        )
        if seeds:
            self._evaluate(row, records, config, seeds, opts["eval_test_seed"])

    def _evaluate(self, row, records, config, seeds, test_seed) -> None:
        from models_ml.scoring.evaluation import evaluate_cpu, evaluation_summary

        summaries = []
        for split in EVALUATION_SPLITS:
            res = evaluate_cpu(
                records, test_seed=test_seed, seeds=seeds, config=config, split=split, log=self.stdout.write
            )
            s = evaluation_summary(res)
            summaries.append(s)
            m, maj, rm = s["model"], s["baselines"]["majority"], s["baselines"]["rater_mean"]
            self.stdout.write(
                f"{split} split (test seed {test_seed}, seeds {list(seeds)}): ACC {m['acc']:.2f} ACC_soft "
                f"{m['acc_soft']:.2f} MAE {m['mae']:.4f}; majority {maj['acc']:.2f}/{maj['acc_soft']:.2f}/"
                f"{maj['mae']:.4f}; rater mean {rm['acc']:.2f}/{rm['acc_soft']:.2f}/{rm['mae']:.4f}"
            )
        scorer_model_attach_evaluation(scorer_model=row, evaluations=summaries)
