import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from models_ml.scoring.base import ScorerError
from models_ml.scoring.evaluation import DEFAULT_SEEDS, SPLITS, evaluate_cpu, report_markdown
from models_ml.scoring.features import FeatureConfig
from models_ml.scoring.records import load_folder
from models_ml.scoring.selectors import labelled_dialogues
from models_ml.scoring.services import ABSOLUTE_MIN_SESSIONS

ERR_LLM_EVAL = "The llm backend cannot be evaluated: {reason}"
ERR_LLM_LANGUAGE = "The llm backend scores Japanese only; --language applies to cpu."
ERR_TOO_FEW = "Too few labelled sessions to evaluate ({count}; at least {minimum} needed)."
ERR_LLM_SPLIT = (
    "The llm backend is evaluated on its training job's own held-out sessions; --split and ids apply to cpu."
)


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
        parser.add_argument(
            "--language",
            default="ja",
            help="the texts' language: ja (default) or a translation such as en (same labels, same protocol)",
        )
        parser.add_argument(
            "--split",
            default="random",
            choices=SPLITS,
            help="random: sessions 8:1:1 (the paper); client: grouped by the rater; counselor: grouped by the counselor",
        )
        ids = parser.add_mutually_exclusive_group()
        ids.add_argument("--no-ids", action="store_true", help="text and statistics only (the default, as the product)")
        ids.add_argument("--with-ids", action="store_true", help="research: add one-hot client and counselor ids")
        parser.add_argument("--report", default="", help="Markdown report path (default under artifacts/reports/)")

    def handle(self, *args, **opts):
        if opts["backend"] == "llm":
            try:
                from models_ml.scoring.llm_scorer import evaluate_llm
            except ImportError as exc:
                raise CommandError(ERR_LLM_EVAL.format(reason=exc)) from exc
            if opts["split"] != "random" or opts["with_ids"]:
                raise CommandError(ERR_LLM_SPLIT)
        else:
            evaluate_llm = None
        config = FeatureConfig(use_ids=bool(opts["with_ids"]))
        seeds = _seeds(opts["seeds"])
        if not seeds:
            raise CommandError("--seeds is empty")
        if opts["language"] != "ja" and evaluate_llm is not None:
            raise CommandError(ERR_LLM_LANGUAGE)
        if opts["from_folder"]:
            try:
                records = load_folder(opts["from_folder"], translated=opts["language"] != "ja")
            except FileNotFoundError as exc:
                raise CommandError(str(exc)) from exc
        else:
            records = (
                labelled_dialogues() if opts["language"] == "ja" else labelled_dialogues(language=opts["language"])
            )
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
                res = evaluate_cpu(
                    records, test_seed=test_seed, seeds=seeds, config=config, split=opts["split"], log=log
                )
                results.append({**res, "language": opts["language"]})
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
            self._summary(res)
        self.stdout.write(f"report: {path}")

    def _summary(self, res: dict) -> None:
        a, items = res["average"], res.get("item_std")
        line = (
            f"test seed {res['test_seed']}, split {res.get('split', 'random')}, language {res.get('language', 'ja')}: ACC {a['acc']['mean']:.2f}, "
            f"ACC_soft {a['acc_soft']['mean']:.2f}, MAE {a['mae']['mean']:.4f} "
            f"(± over seeds {a['acc']['std']:.2f} / {a['acc_soft']['std']:.2f} / {a['mae']['std']:.4f}"
        )
        if items:
            line += f"; ± over items, as the paper {items['acc']:.2f} / {items['acc_soft']:.2f} / {items['mae']:.4f}"
        self.stdout.write(line + f"; beats paper: {res['beats_paper']})")
        for name, b in (res.get("baselines") or {}).items():
            self.stdout.write(
                f"  baseline {name}: ACC {b['acc']['mean']:.2f}, ACC_soft {b['acc_soft']['mean']:.2f}, "
                f"MAE {b['mae']['mean']:.4f}"
            )
