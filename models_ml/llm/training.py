"""QLoRA fine-tuning with TRL's SFTTrainer, callable from a Celery task.

``train(job_cfg, records, output_dir, progress_cb=..., should_stop=...)`` splits the records, builds the
task's prompt-completion examples, loads the base model in 4-bit NF4, trains LoRA adapters with a loss on the
completion only, keeps the best checkpoint (lowest validation loss; for the score task the highest validation
prediction accuracy, ``selection.py``), and writes the adapter, the tokenizer and ``metrics.json`` (with the
``split_ids`` the adapter was trained, selected and never trained on) into ``output_dir``.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import (
    TASK_RESPONSE,
    JobConfig,
    cuda_available,
    get_peft_config,
    get_quantization_config,
    get_training_args,
    resolve_optimizer,
    torch_dtype,
)
from .data import build_response_examples, build_score_examples, split_response, split_score

STATUS_COMPLETED = "completed"
STATUS_CANCELLED = "cancelled"
METRICS_FILE = "metrics.json"
CHECKPOINTS_DIR = "checkpoints"

ERR_BASE_MODEL_NOT_FOUND = "The base model directory {path} does not exist or holds no config.json."
ERR_NO_CHAT_TEMPLATE = "The base model's tokenizer has no chat template; choose an instruction-tuned model."
ERR_NO_EXAMPLES = "The {split} split produced no training examples."

ProgressCallback = Callable[[int, int, dict[str, Any]], None]


class TrainingError(RuntimeError):
    pass


@dataclass
class TrainResult:
    status: str
    output_dir: str
    adapter_dir: str | None
    metrics_path: str
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def cancelled(self) -> bool:
        return self.status == STATUS_CANCELLED


def _progress_callback_class():
    from transformers import TrainerCallback

    class ProgressAndCancel(TrainerCallback):
        """Forwards logs to ``progress_cb`` and stops training when ``should_stop()`` turns true."""

        def __init__(self, progress_cb: ProgressCallback | None, should_stop: Callable[[], bool] | None) -> None:
            self.progress_cb = progress_cb
            self.should_stop = should_stop
            self.cancelled = False
            self.final = False  # set before the evaluation of the best checkpoint, after training

        def _report(self, state, logs: dict[str, Any]) -> None:
            if self.final and "eval_loss" in logs:
                # Not a point of the validation curve: the best checkpoint, reloaded, evaluated once more.
                logs = {"best_eval_loss": logs.pop("eval_loss"), "best_step": _checkpoint_step(state), **logs}
            if self.progress_cb is not None:
                self.progress_cb(state.global_step, state.max_steps, {"epoch": state.epoch or 0.0, **logs})

        def on_train_begin(self, args, state, control, **kwargs):
            self._report(state, {})

        def on_step_end(self, args, state, control, **kwargs):
            if self.should_stop is not None and self.should_stop():
                self.cancelled = True
                control.should_training_stop = True
                control.should_save = False
                control.should_evaluate = False

        def on_log(self, args, state, control, logs=None, **kwargs):
            self._report(state, dict(logs or {}))

    return ProgressAndCancel


def _checkpoint_step(state) -> int | None:
    path = state.best_model_checkpoint or ""
    tail = path.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None


def fit_to_length(example: dict[str, Any], tokenizer: Any, max_length: int) -> dict[str, Any] | None:
    """Drop the oldest context turns (keeping the system prompt) until prompt + completion fit in
    ``max_length`` tokens; a single over-long user message (score task) is cut from its start.
    Returns None when even the completion alone does not fit."""

    def length(prompt: list[dict[str, str]]) -> int:
        ids = tokenizer.apply_chat_template(prompt + example["completion"], tokenize=True, return_dict=False)
        return len(ids)

    prompt = list(example["prompt"])
    if length(prompt) <= max_length:
        return example
    system = [m for m in prompt[:1] if m["role"] == "system"]
    turns = prompt[len(system) :]
    if length(system + turns[-1:]) > max_length:
        return _cut_head(system, turns[-1], example["completion"], length, max_length)
    # Binary search for the largest number of trailing turns that fits.
    lo, hi = 1, len(turns)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if length(system + turns[-mid:]) <= max_length:
            lo = mid
        else:
            hi = mid - 1
    kept = turns[-lo:]
    while kept and kept[0]["role"] == "assistant":  # start the kept context on a partner turn
        kept = kept[1:]
    return {"prompt": system + (kept or turns[-1:]), "completion": example["completion"]}


def _cut_head(system, last, completion, length, max_length) -> dict[str, Any] | None:
    """Keep the longest tail of one over-long user message (e.g. a whole transcript) that fits."""
    if last["role"] != "user":
        return None
    text = last["content"]

    def fits(keep: int) -> bool:
        return length(system + [{**last, "content": "…" + text[len(text) - keep :]}]) <= max_length

    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    if lo == 0 and not fits(0):
        return None
    return {"prompt": system + [{**last, "content": "…" + text[len(text) - lo :]}], "completion": completion}


def _build_examples(job: JobConfig, records: Sequence[Any]) -> tuple[list, list, dict[str, Any], Any]:
    t = job.training
    if job.task == TASK_RESPONSE:
        split = split_response(records, seed=t.seed, validation_ratio=t.validation_ratio)

        def build(recs):
            return build_response_examples(recs, target_role=job.target_role, system_prompt=job.system_prompt)
    else:
        split = split_score(records, seed=t.seed, test_seed=t.test_seed)

        def build(recs):
            return build_score_examples(recs, system_prompt=job.system_prompt)

    train_ex, val_ex = build(split.train), build(split.validation)
    for name, ex in (("train", train_ex), ("validation", val_ex)):
        if not ex:
            raise TrainingError(ERR_NO_EXAMPLES.format(split=name))
    sizes: dict[str, Any] = {f"{k}_dialogues": v for k, v in split.sizes().items()}
    sizes["test_ids"] = [r.id for r in split.test]
    # Which dialogues the adapter saw (train), selected on (validation) and never saw (test): kept with the job
    # so that an evaluation can use exactly the held-out ones and refuse the others (models_ml.scoring.llm_eval).
    sizes["split_ids"] = {
        "train": [r.id for r in split.train],
        "validation": [r.id for r in split.validation],
        "test": [r.id for r in split.test],
        "seed": t.seed,
        "test_seed": t.test_seed,
    }
    return train_ex, val_ex, sizes, split


def _selection_callback(job: JobConfig, split: Any, val_ex: list, tokenizer: Any):
    """The validation prediction-accuracy callback when the job selects by it, else None."""
    from .config import SELECT_PRED_ACC
    from .selection import prediction_accuracy_callback

    t = job.training
    if t.selection_metric != SELECT_PRED_ACC:
        return None
    labelled = [r for r in split.validation if r.items is not None]
    pairs = list(zip(labelled, val_ex, strict=True))  # build_score_examples keeps the order of the records
    if t.selection_max_dialogues:
        pairs = pairs[: t.selection_max_dialogues]
    cb = prediction_accuracy_callback(
        tokenizer,
        [ex for _r, ex in pairs],
        [list(r.items) for r, _ex in pairs],
        max_length=t.max_length,
        max_new_tokens=t.selection_new_tokens,
    )
    return cb


def _load_model_and_tokenizer(job: JobConfig, cuda: bool):
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(job.base_model)
    if not tokenizer.chat_template:
        raise TrainingError(ERR_NO_CHAT_TEMPLATE)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    quant = get_quantization_config(job.qlora)
    kwargs: dict[str, Any] = {"dtype": torch_dtype(job.qlora.bnb_4bit_compute_dtype) if cuda else torch.float32}
    if quant is not None:
        kwargs["quantization_config"] = quant
    if cuda:
        kwargs["device_map"] = {"": torch.cuda.current_device()}
    model = AutoModelForCausalLM.from_pretrained(job.base_model, **kwargs)
    model.config.use_cache = False
    if quant is not None:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=job.training.gradient_checkpointing)
    return model, tokenizer


def _write_metrics(path: Path, metrics: dict[str, Any]) -> None:
    path.write_text(json.dumps(metrics, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def train(
    job_cfg: JobConfig | dict[str, Any],
    records: Sequence[Any],
    output_dir: str | Path,
    progress_cb: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    *,
    extra_callbacks: Sequence[Any] = (),
) -> TrainResult:
    job = job_cfg if isinstance(job_cfg, JobConfig) else JobConfig.from_dict(job_cfg)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics_path = out / METRICS_FILE
    metrics: dict[str, Any] = {"task": job.task, "config": job.to_dict()}
    if not (Path(job.base_model) / "config.json").is_file():
        raise TrainingError(ERR_BASE_MODEL_NOT_FOUND.format(path=job.base_model))
    if should_stop is not None and should_stop():
        metrics["status"] = STATUS_CANCELLED
        _write_metrics(metrics_path, metrics)
        return TrainResult(STATUS_CANCELLED, str(out), None, str(metrics_path), metrics)

    from datasets import Dataset
    from trl import SFTTrainer

    cuda = cuda_available()
    train_ex, val_ex, sizes, split = _build_examples(job, records)
    model, tokenizer = _load_model_and_tokenizer(job, cuda)
    max_len = job.training.max_length
    fit_train = [fit_to_length(x, tokenizer, max_len) for x in train_ex]
    fit_val = [fit_to_length(x, tokenizer, max_len) for x in val_ex]
    truncated = sum(f is not x for x, f in zip(train_ex + val_ex, fit_train + fit_val, strict=True))
    fitted_train = [e for e in fit_train if e is not None]
    fitted_val = [e for e in fit_val if e is not None]
    if not fitted_train or not fitted_val:
        raise TrainingError(ERR_NO_EXAMPLES.format(split="train" if not fitted_train else "validation"))
    metrics.update(sizes)
    metrics.update(
        {
            "train_examples": len(fitted_train),
            "validation_examples": len(fitted_val),
            "dropped_too_long": len(train_ex) + len(val_ex) - len(fitted_train) - len(fitted_val),
            "truncated_examples": truncated,  # shortened or dropped by the length budget (docs/llm.md)
            "optimizer": resolve_optimizer(job.training.optim, cuda=cuda),
            "device": "cuda" if cuda else "cpu",
        }
    )

    args = get_training_args(job.training, str(out / CHECKPOINTS_DIR), cuda=cuda)
    selector = _selection_callback(job, split, val_ex, tokenizer)
    callback = _progress_callback_class()(progress_cb, should_stop)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(fitted_train),
        eval_dataset=Dataset.from_list(fitted_val),
        processing_class=tokenizer,
        peft_config=get_peft_config(job.qlora),
        callbacks=[*([selector] if selector is not None else []), callback, *extra_callbacks],
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # progress goes through progress_cb, not stdout
    started = time.monotonic()
    train_output = trainer.train()
    metrics["train_runtime_s"] = round(time.monotonic() - started, 3)
    metrics["global_step"] = trainer.state.global_step
    metrics["epoch"] = trainer.state.epoch
    metrics["train_loss"] = train_output.training_loss
    metrics["log_history"] = trainer.state.log_history
    metrics["best_checkpoint"] = trainer.state.best_model_checkpoint
    if selector is None:
        metrics["best_eval_loss"] = trainer.state.best_metric
    else:
        metrics["selection"] = {
            "metric": "pred_acc",
            "history": list(selector.history),
            "best_pred_acc": trainer.state.best_metric,
            "best_step": _checkpoint_step(trainer.state),
            "validation_dialogues_decoded": len(selector.gold),
            "prompts_truncated": selector.truncated,
        }
    if callback.cancelled:
        metrics["status"] = STATUS_CANCELLED
        shutil.rmtree(out / CHECKPOINTS_DIR, ignore_errors=True)
        _write_metrics(metrics_path, metrics)
        return TrainResult(STATUS_CANCELLED, str(out), None, str(metrics_path), metrics)

    callback.final = True
    if selector is not None:
        selector.final = True
    eval_metrics = trainer.evaluate()  # the best checkpoint is loaded at the end of training
    if selector is not None:
        metrics["selection"]["final_pred_acc"] = eval_metrics.get("eval_pred_acc")
    metrics["eval_loss"] = eval_metrics.get("eval_loss")
    if metrics["eval_loss"] is not None and math.isfinite(metrics["eval_loss"]):
        metrics["eval_perplexity"] = math.exp(min(metrics["eval_loss"], 50.0))
    trainer.model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    shutil.rmtree(out / CHECKPOINTS_DIR, ignore_errors=True)
    metrics["status"] = STATUS_COMPLETED
    _write_metrics(metrics_path, metrics)
    return TrainResult(STATUS_COMPLETED, str(out), str(out), str(metrics_path), metrics)
