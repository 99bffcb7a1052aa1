"""Checks of the coaching signals on the published KokoroChat folder (pure Python, no Django models):

* ``tagger_scores``: precision / recall / F1 of the question, reflection and summary taggers against hand labels
  (``tests/fixtures/coaching_labels.csv``: dialogue id, message index, three 0/1 labels — never the text; the
  guidelines are in docs/coaching_labels.md).
* ``correlations``: Spearman correlation of each per-session signal with the client's total score.
* ``derive_thresholds``: the live-hint thresholds from the distribution in the High-scored sessions (70–98): a
  hint fires where fewer than ``1 - quantile`` of the High counselors' messages would.

The management command ``coaching_signals`` runs all three.
"""

from __future__ import annotations

import csv
import json
import math
import random
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .signals_text import analyse, session_stats, turn_signals

SIGNALS = ("question", "reflection", "summary")
STATS = ("question_ratio", "reflection_ratio", "reflection_to_question", "mean_response_s", "mean_length")
HIGH = (70, 98)
DEFAULT_QUANTILE = 0.95
ERR_LABELS = "The labels file {path} has no rows with dialogue_id, message_index, question, reflection, summary."
ERR_MISSING_DIALOGUE = "Labelled dialogue {id} is not in {folder}."
ERR_NOT_COUNSELOR = "Labelled message {id}#{index} is not a counselor message."


@dataclass(frozen=True)
class Label:
    dialogue_id: str
    index: int
    question: bool
    reflection: bool
    summary: bool


def load_labels(path: str | Path) -> list[Label]:
    with open(path, encoding="utf-8") as fh:
        rows = [
            Label(
                r["dialogue_id"],
                int(r["message_index"]),
                r["question"] == "1",
                r["reflection"] == "1",
                r["summary"] == "1",
            )
            for r in csv.DictReader(fh)
        ]
    if not rows:
        raise ValueError(ERR_LABELS.format(path=path))
    return rows


def _load(folder: Path, dialogue_id: str) -> dict[str, Any]:
    path = folder / f"{dialogue_id}.json"
    if not path.is_file():
        raise ValueError(ERR_MISSING_DIALOGUE.format(id=dialogue_id, folder=folder))
    return json.loads(path.read_text(encoding="utf-8"))


def _prf(pairs: Sequence[tuple[bool, bool]]) -> dict[str, Any]:
    tp = sum(1 for gold, pred in pairs if gold and pred)
    fp = sum(1 for gold, pred in pairs if pred and not gold)
    fn = sum(1 for gold, pred in pairs if gold and not pred)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    return {"positives": tp + fn, "tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def tagger_scores(labels: Sequence[Label], folder: str | Path) -> dict[str, Any]:
    """Precision and recall of each tagger on the labelled counselor messages (message level)."""
    folder = Path(folder)
    cache: dict[str, dict[str, Any]] = {}
    pairs: dict[str, list[tuple[bool, bool]]] = {s: [] for s in SIGNALS}
    for label in labels:
        obj = cache.setdefault(label.dialogue_id, _load(folder, label.dialogue_id))
        message = obj["dialogue"][label.index]
        if message["role"] != "counselor":
            raise ValueError(ERR_NOT_COUNSELOR.format(id=label.dialogue_id, index=label.index))
        predicted = turn_signals(message["utterance"])
        pairs["question"].append((label.question, predicted.is_question))
        pairs["reflection"].append((label.reflection, predicted.is_reflection))
        pairs["summary"].append((label.summary, predicted.is_summary))
    return {"messages": len(labels), "dialogues": len(cache), **{s: _prf(p) for s, p in pairs.items()}}


def _messages(obj: dict[str, Any]) -> list[tuple[str, datetime | None, str]]:
    out = []
    for m in obj.get("dialogue") or []:
        try:
            when = datetime.fromisoformat(m.get("time") or "")
        except ValueError:
            when = None
        out.append((m.get("role", ""), when, m.get("utterance") or ""))
    return out


def _total(obj: dict[str, Any]) -> int | None:
    review = obj.get("review_by_client_jp") or {}
    value = review.get("点数")
    return int(value) if isinstance(value, int | float) else None


def iter_dialogues(folder: str | Path, *, limit: int | None = None, seed: int = 0) -> Iterator[dict[str, Any]]:
    """The folder's dialogues in a seeded random order (the first ``limit``)."""
    files = sorted(Path(folder).glob("*.json"), key=lambda p: p.stem)
    random.Random(seed).shuffle(files)
    for path in files[:limit] if limit else files:
        yield json.loads(path.read_text(encoding="utf-8"))


def correlations(dialogues: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Spearman correlation (and p-value) of each per-session signal with the total score."""
    from scipy.stats import spearmanr

    rows = []
    for obj in dialogues:
        total = _total(obj)
        if total is None:
            continue
        rows.append((total, session_stats(analyse(_messages(obj))).as_dict()))
    out: dict[str, Any] = {"sessions": len(rows)}
    for stat in STATS:
        pairs = [(t, s[stat]) for t, s in rows if s[stat] is not None]
        if len(pairs) < 3:
            out[stat] = {"rho": None, "p": None, "n": len(pairs)}
            continue
        with warnings.catch_warnings():  # a constant column has no rank correlation: reported as None
            warnings.simplefilter("ignore")
            rho, p = spearmanr([a for a, _b in pairs], [b for _a, b in pairs])
        undefined = math.isnan(rho)
        out[stat] = {
            "rho": None if undefined else round(float(rho), 3),
            "p": None if undefined else float(p),
            "n": len(pairs),
        }
    return out


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def derive_thresholds(
    dialogues: Sequence[dict[str, Any]], *, quantile: float = DEFAULT_QUANTILE, high: tuple[int, int] = HIGH
) -> dict[str, Any]:
    """Thresholds at the ``quantile`` of the High-scored sessions' counselor messages: reply length (characters),
    response time (seconds, first reply after a client message) and the question streak (the smallest run of
    consecutive questions that at most ``1 - quantile`` of their counselor messages close)."""
    lengths: list[int] = []
    responses: list[float] = []
    runs: list[int] = []  # per counselor message: the run of questions it closes (0 when not a question)
    sessions = 0
    for obj in dialogues:
        total = _total(obj)
        if total is None or not high[0] <= total <= high[1]:
            continue
        sessions += 1
        run = 0
        for turn in analyse(_messages(obj)):
            if turn.signals is None:
                continue
            lengths.append(turn.signals.length)
            if turn.response_s is not None:
                responses.append(turn.response_s)
            run = run + 1 if turn.signals.is_question else 0
            runs.append(run)
    streak = 1
    while runs and sum(1 for r in runs if r >= streak) / len(runs) > 1 - quantile:
        streak += 1
    return {
        "sessions": sessions,
        "counselor_messages": len(lengths),
        "quantile": quantile,
        "long_reply_chars": int(_quantile(lengths, quantile)) if lengths else None,
        "slow_response_s": int(round(_quantile(responses, quantile))) if responses else None,
        "question_streak": streak if runs else None,
    }


def study(
    folder: str | Path,
    *,
    labels: str | Path | None,
    limit: int | None,
    seed: int = 0,
    quantile: float = DEFAULT_QUANTILE,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    dialogues = list(iter_dialogues(folder, limit=limit, seed=seed))
    log(f"{len(dialogues)} dialogues loaded from {folder}")
    result: dict[str, Any] = {
        "folder": str(folder),
        "seed": seed,
        "correlations": correlations(dialogues),
        "thresholds": derive_thresholds(dialogues, quantile=quantile),
    }
    if labels:
        result["taggers"] = tagger_scores(load_labels(labels), folder)
    return result
