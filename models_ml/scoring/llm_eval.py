"""Evaluation of the LLM scorer without leakage (``evaluate_scorer --backend llm``).

* A **fine-tuned adapter** is scored only on its own training job's held-out test dialogues: the job keeps
  ``split_ids`` (train / validation / test evaluation ids, ``models_ml.llm.training``). Asking for another test
  split, or for dialogues the adapter trained or was selected on, is refused with a clear error; so is an adapter
  whose job did not keep its split (jobs before this change: retrain).
* **Seeds**: the paper fine-tunes 5 times (seeds vary the train/validation split) and averages. Each adapter is
  one seed; pass the 5 versions (``--model-version`` five times, or all scorer versions trained with the same
  ``test_seed``). Their test splits must be identical. The std over seeds comes from real runs — a single
  adapter gives one run and the report says so; one run is never copied to several seeds.
* A **zero-shot endpoint** (``openai`` backend, no training job — the paper's GPT-4o row) has seen no
  dialogue: it is scored once on the CPU protocol's test split of ``test_seed``, as one run.
* Decoding is greedy (``scorer.GENERATION_PARAMS``). The transcript is sent whole: the training length budget
  (``max_length`` 8,192 tokens for the score task) cuts no published transcript at evaluation time; the share of
  test transcripts longer than that budget in characters (an upper bound of the tokens) is reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

ERR_NO_SPLIT = (
    "Model version #{id} comes from a job that did not keep its train/validation/test split, so its held-out "
    "dialogues are unknown: retrain it (jobs now keep split_ids) before evaluating."
)
ERR_LEAK = (
    "Refusing to evaluate model version #{id} on {count} dialogues it was trained or selected on: an adapter is "
    "evaluated only on its own job's held-out test dialogues."
)
ERR_TEST_SEED = (
    "Model version #{id} was trained with test_seed {trained}; its held-out dialogues are that split. "
    "Run with --test-seed {trained} (asked: {asked})."
)
ERR_MISSING = "{missing} of the {total} held-out test dialogues of model version #{id} are not among the records."
ERR_DIFFERENT_TESTS = "The model versions do not share one test split (versions #{a} and #{b} differ): not comparable."
ERR_NOT_SCORER = "Model version #{id} is not a scorer (score-prediction) model."
ERR_NO_VERSION = "Model version #{id} does not exist."

CHARS_BUDGET = 8192 - 400  # training max_length minus the 20 item lines: transcripts above are cut in training


def version_split(version: Any) -> dict[str, Any] | None:
    """The split a version's training job kept (evaluation ids as strings), or None (zero-shot / unknown)."""
    job = getattr(version, "source_job", None)
    if job is None:
        return None
    split = (job.metrics or {}).get("split_ids")
    if not split:
        raise ValueError(ERR_NO_SPLIT.format(id=version.pk))
    return {k: ([str(i) for i in v] if isinstance(v, list) else v) for k, v in split.items()}


def evaluation_ids(records: Sequence[Any], *, id_space: str) -> list[str]:
    """Each record's evaluation id: folder records are named by it; database records are keyed by session pk."""
    if id_space == "evaluation":
        return [str(r.session_key) for r in records]
    from feedback.models import Feedback

    by_session = dict(
        Feedback.objects.filter(session_id__in=[int(r.session_key) for r in records]).values_list(
            "session_id", "evaluation_id"
        )
    )
    return [str(by_session.get(int(r.session_key), f"session-{r.session_key}")) for r in records]


def held_out_records(
    version: Any, split: dict[str, Any], records: Sequence[Any], ids: Sequence[str], *, test_seed: int | None
) -> list[Any]:
    """The records of the version's held-out test dialogues; refuses anything the adapter saw."""
    if test_seed is not None and split.get("test_seed") is not None and int(split["test_seed"]) != int(test_seed):
        raise ValueError(ERR_TEST_SEED.format(id=version.pk, trained=split["test_seed"], asked=test_seed))
    test = set(split["test"])
    seen = set(split.get("train", [])) | set(split.get("validation", []))
    chosen = [r for r, i in zip(records, ids, strict=True) if i in test]
    leaked = {i for r, i in zip(records, ids, strict=True) if i in test and i in seen}
    if leaked:
        raise ValueError(ERR_LEAK.format(id=version.pk, count=len(leaked)))
    found = {i for i in ids if i in test}
    if len(found) < len(test):
        raise ValueError(ERR_MISSING.format(missing=len(test) - len(found), total=len(test), id=version.pk))
    return chosen


def _run(scorer: Any, test: Sequence[Any], seed: Any, log: Callable[[str], None] | None) -> dict[str, Any]:
    from feedback.items import SCREENINGS
    from models_ml.scoring.metrics import item_metrics, precision_recall

    preds, flags = [], []
    for done, record in enumerate(test, start=1):
        prediction = scorer.predict(record)
        preds.append(prediction.items)
        flags.append([bool(prediction.flags.get(s.code)) for s in SCREENINGS])
        if log and done % 20 == 0:
            log(f"[{scorer.model_version}] scored {done}/{len(test)} held-out sessions")
    y = np.array([r.items for r in test])
    s_true = np.array([r.screening for r in test], dtype=bool)
    f = np.array(flags, dtype=bool).reshape(len(test), len(SCREENINGS))
    screening = {s.code: precision_recall(s_true[:, k], f[:, k]) for k, s in enumerate(SCREENINGS)}
    screening["any"] = precision_recall(s_true.any(axis=1), f.any(axis=1))
    return {"seed": seed, **item_metrics(y, np.array(preds)), "screening": screening}


def evaluate(
    records: Sequence[Any],
    *,
    test_seed: int | None,
    versions: Sequence[Any],
    scorer_for: Callable[[Any], Any],
    id_space: str = "session",
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Score every version on its held-out test dialogues (one run per version = per seed)."""
    import time

    from models_ml.scoring.evaluation import _result, split_indices

    t0 = time.monotonic()
    records = [r for r in records if r.labelled]
    ids = evaluation_ids(records, id_space=id_space)
    plans, tests, kinds = [], [], []
    for version in versions:  # every check before any scoring
        split = version_split(version)
        if split is None:  # zero-shot: nothing seen; the CPU protocol's test split
            _, _, idx = split_indices(len(records), test_seed=test_seed or 0, seed=0)
            test = [records[i] for i in idx]
            seed: Any = "zero-shot"
            kinds.append("zero-shot")
        else:
            test = held_out_records(version, split, records, ids, test_seed=test_seed)
            seed = split.get("seed")
            kinds.append("fine-tuned")
        tests.append(sorted(str(r.session_key) for r in test))
        if len(tests) > 1 and tests[-1] != tests[0]:
            raise ValueError(ERR_DIFFERENT_TESTS.format(a=versions[0].pk, b=version.pk))
        plans.append((version, test, seed))
    runs = [_run(scorer_for(version), test, seed, log) for version, test, seed in plans]
    test = [r for r in records if str(r.session_key) in set(tests[0])]
    lengths = np.array([sum(len(m.text) for m in r.messages) for r in test])
    used_seed = test_seed if test_seed is not None else (version_split(versions[0]) or {}).get("test_seed", 0)
    result = _result(
        "llm",
        runs,
        sessions=len(records),
        test_seed=used_seed,
        seeds=[r["seed"] for r in runs],
        test_size=len(test),
        t0=t0,
    )
    result["llm"] = {
        "versions": [v.pk for v in versions],
        "kind": kinds[0],
        "seed_runs": len(runs),
        "std_over_seeds": "n/a: one run" if len(runs) < 2 else f"sample std over {len(runs)} runs",
        "decoding": "greedy",
        "test_ids": tests[0],
        "transcripts_over_budget_pct": round(100 * float((lengths > CHARS_BUDGET).mean()), 2) if len(test) else 0.0,
    }
    if log:
        a = result["average"]
        log(
            f"llm ({kinds[0]}, {len(runs)} run(s), test {len(test)}): ACC {a['acc']['mean']:.2f} "
            f"ACC_soft {a['acc_soft']['mean']:.2f} MAE {a['mae']['mean']:.4f}"
        )
    return result
