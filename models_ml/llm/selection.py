"""Model selection for the score-prediction task by **validation prediction accuracy**, as the KokoroChat paper
selects its epoch (the checkpoint with the best accuracy on the validation dialogues, not the lowest loss).

``PredictionAccuracyCallback`` runs at every validation (every epoch for the score task): it decodes the
validation dialogues greedily with the model being trained, parses the 20 item scores, and adds
``eval_pred_acc`` (exact-match accuracy over all items, %; an unreadable answer counts every item as wrong)
and ``eval_pred_parsed`` (share of readable answers, %) to the evaluation metrics, which the Trainer then uses
as ``metric_for_best_model``. Prompts longer than ``max_length - max_new_tokens`` tokens lose the beginning of
the transcript, exactly as in training (``training.fit_to_length``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .data import parse_scores

METRIC = "eval_pred_acc"
DEFAULT_SELECTION_NEW_TOKENS = 200


def prediction_accuracy(answers: Sequence[str], gold: Sequence[Sequence[int]]) -> dict[str, float]:
    """Exact-match accuracy over every item of every dialogue (%), and the share of readable answers (%)."""
    if not gold:
        return {"acc": 0.0, "parsed": 0.0}
    correct = parsed = 0
    for answer, items in zip(answers, gold, strict=True):
        try:
            predicted = parse_scores(answer)
        except ValueError:
            continue
        parsed += 1
        correct += sum(int(p == g) for p, g in zip(predicted, items, strict=True))
    return {"acc": 100.0 * correct / (len(gold) * len(gold[0])), "parsed": 100.0 * parsed / len(gold)}


def greedy_answers(model: Any, tokenizer: Any, prompts: Sequence[list[dict[str, str]]], *, max_new_tokens: int) -> list:
    """Greedy decoding of each prompt (one at a time: no padding effects on a small validation set)."""
    import torch

    was_training = model.training
    model.eval()
    answers = []
    try:
        with torch.no_grad():
            for prompt in prompts:
                ids = tokenizer.apply_chat_template(
                    prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True
                )
                ids = {k: v.to(model.device) for k, v in ids.items()}
                out = model.generate(
                    **ids,
                    max_new_tokens=max_new_tokens,
                    do_sample=False,
                    use_cache=True,  # training sets config.use_cache=False; decoding without it is quadratic
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
                answers.append(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))
    finally:
        if was_training:
            model.train()
    return answers


def prediction_accuracy_callback(
    tokenizer: Any,
    examples: Sequence[dict[str, Any]],
    gold: Sequence[Sequence[int]],
    *,
    max_length: int,
    max_new_tokens: int = DEFAULT_SELECTION_NEW_TOKENS,
):
    """A TrainerCallback scoring ``examples`` (score-task prompt-completion examples of the validation
    dialogues, ``gold`` their items) at every evaluation. Its ``history`` lists one entry per evaluation."""
    from transformers import TrainerCallback

    from .training import fit_to_length

    budget = max(16, max_length - max_new_tokens)
    prompts = []
    cut = 0
    for example in examples:
        fitted = fit_to_length({"prompt": example["prompt"], "completion": []}, tokenizer, budget)
        prompt = fitted["prompt"] if fitted is not None else example["prompt"]
        cut += int(fitted is None or fitted["prompt"] != example["prompt"])
        prompts.append(prompt)

    class PredictionAccuracy(TrainerCallback):
        def __init__(self) -> None:
            self.history: list[dict[str, Any]] = []  # one entry per validation during training
            self.truncated = cut
            self.gold = list(gold)
            self.final = False  # set by train() before the last evaluation of the best checkpoint

        def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
            if model is None or metrics is None:
                return
            answers = greedy_answers(model, tokenizer, prompts, max_new_tokens=max_new_tokens)
            scores = prediction_accuracy(answers, gold)
            metrics[METRIC] = scores["acc"]
            metrics["eval_pred_parsed"] = scores["parsed"]
            if self.final:
                return
            self.history.append(
                {"step": state.global_step, "epoch": state.epoch, "pred_acc": scores["acc"], "parsed": scores["parsed"]}
            )

    return PredictionAccuracy()
