import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from models_ml.scoring.base import ScorerError
from models_ml.scoring.evaluation import DEFAULT_SEEDS, evaluate_cpu, report_markdown
from models_ml.scoring.records import load_folder
from models_ml.scoring.selectors import labelled_dialogues
from models_ml.scoring.services import ABSOLUTE_MIN_SESSIONS

ERR_LLM_EVAL = "The llm backend cannot be evaluated: {reason}"
ERR_TOO_FEW = "Too few labelled sessions to evaluate ({count}; at least {minimum} needed)."


def _seeds(value: str) -> tuple[int, ...]:
    try:
        return tuple(int(s) for s in value.split(",") if s.strip())
    except ValueError as exc:
        raise CommandError(f"--seeds must be comma-separated integers: {value!r}") from exc


class Command(BaseCommand):
    help = "Run the KokoroChat paper's protocol (8:1:1, fixed test split, seeds vary train/validation)."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the results as JSON")
        parser.add_argument("--test-seed", type=int, action="append", dest="test_seeds")
        parser.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)))
        parser.add_argument("--backend", default="cpu", choices=["cpu", "llm"])
        parser.add_argument(
            "--model-version",
            type=int,
            action="append",
            dest="model_versions",
            help="llm: a scorer model version to evaluate on its own held-out split (repeat: one per seed)",
        )
        parser.add_argument("--from-folder", default="")
        parser.add_argument("--report", default="", help="Markdown report path (default under artifacts/reports/)")

    def handle(self, *args, **opts):
        if opts["backend"] == "llm":
            try:
                from models_ml.scoring.llm_scorer import evaluate_llm
            except ImportError as exc:
                raise CommandError(ERR_LLM_EVAL.format(reason=exc)) from exc
        else:
            evaluate_llm = None
        seeds = _seeds(opts["seeds"])
        if not seeds:
            raise CommandError("--seeds is empty")
        if opts["from_folder"]:
            try:
                records = load_folder(opts["from_folder"])
            except FileNotFoundError as exc:
                raise CommandError(str(exc)) from exc
        else:
            records = labelled_dialogues()
        records = [r for r in records if r.labelled]
        if len(records) < ABSOLUTE_MIN_SESSIONS * 3:
            raise CommandError(ERR_TOO_FEW.format(count=len(records), minimum=ABSOLUTE_MIN_SESSIONS * 3))
        log = self.stderr.write if opts["json"] else self.stdout.write
        results = []
        for test_seed in opts["test_seeds"] or [0]:
            if evaluate_llm is not None:
                try:
                    results.append(
                        evaluate_llm(
                            records,
                            test_seed=test_seed if opts["test_seeds"] else None,  # an adapter's own split by default
                            log=log,
                            version_ids=opts["model_versions"],
                            id_space="evaluation" if opts["from_folder"] else "session",
                        )
                    )
                except ScorerError as exc:
                    raise CommandError(ERR_LLM_EVAL.format(reason=exc)) from exc
            else:
                results.append(evaluate_cpu(records, test_seed=test_seed, seeds=seeds, log=log))
        path = (
            Path(opts["report"])
            if opts["report"]
            else (Path(settings.KOKORO_ARTIFACTS_DIR) / "reports" / f"scorer-eval-{timezone.now():%Y%m%d-%H%M%S}.md")
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(report_markdown(results), encoding="utf-8")
        if opts["json"]:
            self.stdout.write(json.dumps({"results": results, "report": str(path)}, ensure_ascii=False, indent=2))
            return
        for res in results:
            a = res["average"]
            self.stdout.write(
                f"test seed {res['test_seed']}: ACC {a['acc']['mean']:.2f} ± {a['acc']['std']:.2f}, "
                f"ACC_soft {a['acc_soft']['mean']:.2f} ± {a['acc_soft']['std']:.2f}, "
                f"MAE {a['mae']['mean']:.4f} ± {a['mae']['std']:.4f} (beats paper: {res['beats_paper']})"
            )
        self.stdout.write(f"report: {path}")
