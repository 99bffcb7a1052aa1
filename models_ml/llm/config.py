"""Dataclass configurations for QLoRA fine-tuning and the small builders that turn them into library objects.

The defaults reproduce the KokoroChat paper (Appendix D). Heavy libraries (torch, transformers, peft, trl,
bitsandbytes) are imported inside the builders so that importing this module stays cheap.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

TASK_RESPONSE = "response"
TASK_SCORE = "score"
TASKS = (TASK_RESPONSE, TASK_SCORE)
SELECT_LOSS = "loss"
SELECT_PRED_ACC = "pred_acc"
SELECTIONS = (SELECT_LOSS, SELECT_PRED_ACC)

# Optimizers that need CUDA (bitsandbytes 8-bit kernels, torch fused AdamW on GPU) and their CPU fallback.
CUDA_ONLY_OPTIMIZERS = frozenset(
    {"adamw_8bit", "adamw_bnb_8bit", "paged_adamw_8bit", "paged_adamw_32bit", "adamw_torch_fused"}
)
CPU_FALLBACK_OPTIMIZER = "adamw_torch"

ERR_UNKNOWN_TASK = "Unknown task {task!r}: expected one of " + ", ".join(TASKS) + "."
ERR_UNKNOWN_FIELD = "Unknown configuration field(s) for {name}: {fields}."
ERR_BAD_VALUE = "Invalid value for {name}.{field}: {reason}"


@dataclass
class QLoRAConfig:
    """4-bit quantisation and LoRA adapter settings (paper defaults: NF4 + bfloat16 compute, r=8, alpha=16)."""

    load_in_4bit: bool = field(default=True, metadata={"help": "Quantise the frozen base model to 4 bits (QLoRA)."})
    bnb_4bit_quant_type: str = field(default="nf4", metadata={"help": "4-bit data type: 'nf4' (paper) or 'fp4'."})
    bnb_4bit_compute_dtype: str = field(
        default="bfloat16",
        metadata={"help": "Compute dtype of the dequantised matmuls: bfloat16 (paper), float16 or float32."},
    )
    bnb_4bit_use_double_quant: bool = field(
        default=False, metadata={"help": "Also quantise the quantisation constants (saves ~0.4 bit per parameter)."}
    )
    lora_r: int = field(default=8, metadata={"help": "LoRA rank r."})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA scaling alpha (effective scale alpha / r)."})
    lora_dropout: float = field(default=0.05, metadata={"help": "Dropout applied to the LoRA input."})
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        metadata={"help": "Linear layers that receive LoRA adapters (all attention and MLP projections)."},
    )
    bias: str = field(default="none", metadata={"help": "Which biases to train: 'none', 'all' or 'lora_only'."})

    def validate(self) -> None:
        _check(self, self.bnb_4bit_quant_type in ("nf4", "fp4"), "bnb_4bit_quant_type", "must be 'nf4' or 'fp4'")
        _check(
            self,
            self.bnb_4bit_compute_dtype in ("bfloat16", "float16", "float32"),
            "bnb_4bit_compute_dtype",
            "must be bfloat16, float16 or float32",
        )
        _check(self, self.lora_r > 0, "lora_r", "must be positive")
        _check(self, self.lora_alpha > 0, "lora_alpha", "must be positive")
        _check(self, 0.0 <= self.lora_dropout < 1.0, "lora_dropout", "must be in [0, 1)")
        _check(self, bool(self.target_modules), "target_modules", "must not be empty")


@dataclass
class TrainingConfig:
    """Optimisation schedule. Use :meth:`for_task` for the paper's per-task defaults."""

    task: str = field(
        default=TASK_RESPONSE, metadata={"help": "'response' (next counselor turn) or 'score' (20 items)."}
    )
    learning_rate: float = field(default=1e-3, metadata={"help": "Peak learning rate."})
    optim: str = field(
        default="adamw_8bit",
        metadata={"help": "transformers optimizer name; CUDA-only ones fall back to 'adamw_torch' on CPU."},
    )
    warmup_steps: int = field(default=100, metadata={"help": "Linear warm-up steps."})
    lr_scheduler_type: str = field(default="linear", metadata={"help": "Learning-rate schedule after warm-up."})
    per_device_train_batch_size: int = field(default=8, metadata={"help": "Training batch size per device."})
    per_device_eval_batch_size: int = field(default=8, metadata={"help": "Validation batch size per device."})
    gradient_accumulation_steps: int = field(default=1, metadata={"help": "Micro-batches accumulated per update."})
    num_train_epochs: float = field(default=5.0, metadata={"help": "Training epochs."})
    max_steps: int = field(
        default=-1,
        metadata={"help": "If > 0, stop after this many updates (short runs, smoke tests); overrides epochs."},
    )
    eval_strategy: str = field(default="steps", metadata={"help": "When to validate: 'steps' or 'epoch'."})
    eval_steps: int = field(default=400, metadata={"help": "Validate every N updates when eval_strategy='steps'."})
    logging_steps: int = field(default=10, metadata={"help": "Report the training loss every N updates."})
    save_total_limit: int = field(default=2, metadata={"help": "Checkpoints kept on disk (the best is always kept)."})
    max_length: int = field(
        default=2048,
        metadata={"help": "Token budget per example; the oldest turns of the context are dropped to fit."},
    )
    gradient_checkpointing: bool = field(
        default=True, metadata={"help": "Recompute activations in the backward pass to save GPU memory."}
    )
    bf16: bool | None = field(
        default=None, metadata={"help": "bfloat16 mixed precision; None = on when CUDA supports it, off on CPU."}
    )
    seed: int = field(default=42, metadata={"help": "Seed of the train/validation shuffle and of training."})
    test_seed: int = field(default=42, metadata={"help": "Fixed seed choosing the score task's test split."})
    validation_ratio: float = field(
        default=0.1, metadata={"help": "Share of the non-test dialogues used for validation."}
    )
    selection_metric: str = field(
        default=SELECT_LOSS,
        metadata={
            "help": "How the best checkpoint is chosen: 'loss' (lowest validation loss) or 'pred_acc' (score task: "
            "highest accuracy of greedy predictions on the validation dialogues, as the KokoroChat paper)."
        },
    )
    selection_max_dialogues: int = field(
        default=0,
        metadata={"help": "With 'pred_acc': validation dialogues decoded at each validation (0 = all of them)."},
    )
    selection_new_tokens: int = field(
        default=400, metadata={"help": "With 'pred_acc': new tokens per greedy prediction (20 item lines)."}
    )

    @classmethod
    def for_task(cls, task: str, **overrides: Any) -> TrainingConfig:
        """Paper defaults: response = adamw_8bit, lr 1e-3, batch 8, 5 epochs, eval every 400 steps;
        score = adamw_torch_fused, lr 2e-4, batch 4, 4 epochs, eval every epoch, 8:1:1 split."""
        if task == TASK_RESPONSE:
            base = cls(task=TASK_RESPONSE)
        elif task == TASK_SCORE:
            base = cls(
                task=TASK_SCORE,
                learning_rate=2e-4,
                optim="adamw_torch_fused",
                per_device_train_batch_size=4,
                per_device_eval_batch_size=4,
                num_train_epochs=4.0,
                eval_strategy="epoch",
                validation_ratio=1 / 9,  # 8:1:1 overall = 8:1 of the non-test part
                # The longest published transcript is 7,705 characters; Llama-3-family tokenizers give at most
                # about one token per Japanese character, so 8,192 tokens cut at most 0.02 % of them (docs/llm.md).
                max_length=8192,
                selection_metric=SELECT_PRED_ACC,
            )
        else:
            raise ValueError(ERR_UNKNOWN_TASK.format(task=task))
        return dataclasses.replace(base, **overrides)

    def validate(self) -> None:
        _check(self, self.task in TASKS, "task", "must be one of " + ", ".join(TASKS))
        _check(self, self.learning_rate > 0, "learning_rate", "must be positive")
        _check(self, self.per_device_train_batch_size > 0, "per_device_train_batch_size", "must be positive")
        _check(self, self.eval_strategy in ("steps", "epoch"), "eval_strategy", "must be 'steps' or 'epoch'")
        _check(self, self.eval_steps > 0, "eval_steps", "must be positive")
        _check(self, self.max_length >= 64, "max_length", "must be at least 64 tokens")
        _check(self, 0.0 < self.validation_ratio < 0.5, "validation_ratio", "must be in (0, 0.5)")
        _check(self, self.selection_metric in SELECTIONS, "selection_metric", "must be 'loss' or 'pred_acc'")
        _check(
            self,
            self.selection_metric == SELECT_LOSS or self.task == TASK_SCORE,
            "selection_metric",
            "'pred_acc' needs the score task",
        )
        _check(self, self.selection_max_dialogues >= 0, "selection_max_dialogues", "must be 0 or more")
        _check(self, self.selection_new_tokens > 0, "selection_new_tokens", "must be positive")


@dataclass
class JobConfig:
    """Everything one fine-tuning job needs; JSON-serialisable through :meth:`to_dict` / :meth:`from_dict`."""

    base_model: str = field(metadata={"help": "Local directory (or hub id already in the cache) of the base model."})
    task: str = field(default=TASK_RESPONSE, metadata={"help": "'response' or 'score'."})
    qlora: QLoRAConfig = field(default_factory=QLoRAConfig, metadata={"help": "Quantisation and LoRA settings."})
    training: TrainingConfig | None = field(
        default=None, metadata={"help": "Schedule; None = TrainingConfig.for_task(task)."}
    )
    target_role: str = field(
        default="counselor",
        metadata={"help": "Response task: which speaker the model learns to play ('counselor' or 'client')."},
    )
    system_prompt: str | None = field(
        default=None, metadata={"help": "Override of the built-in Japanese system prompt."}
    )

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(ERR_UNKNOWN_TASK.format(task=self.task))
        if self.training is None:
            self.training = TrainingConfig.for_task(self.task)
        self.qlora.validate()
        self.training.validate()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobConfig:
        data = dict(data)
        _reject_unknown(cls, data)
        task = data.get("task", TASK_RESPONSE)
        qlora = data.pop("qlora", None) or {}
        training = data.pop("training", None)
        _reject_unknown(QLoRAConfig, qlora)
        q = QLoRAConfig(**qlora)
        if training is None:
            t = None
        else:
            _reject_unknown(TrainingConfig, training)
            t = TrainingConfig.for_task(task, **{k: v for k, v in training.items() if k != "task"})
        return cls(qlora=q, training=t, **data)


def _check(obj: object, ok: bool, name: str, reason: str) -> None:
    if not ok:
        raise ValueError(ERR_BAD_VALUE.format(name=type(obj).__name__, field=name, reason=reason))


def _reject_unknown(cls: type, data: dict[str, Any]) -> None:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(ERR_UNKNOWN_FIELD.format(name=cls.__name__, fields=", ".join(unknown)))


def help_texts(cls: type) -> dict[str, str]:
    """Field name -> help text (for forms and the admin)."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


# ---------------------------------------------------------------- builders


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def resolve_optimizer(name: str, *, cuda: bool | None = None) -> str:
    """The optimizer to use on this machine: CUDA-only optimizers (8-bit bitsandbytes, fused AdamW) become
    ``adamw_torch`` without CUDA, which is mathematically the same AdamW in full precision."""
    if cuda is None:
        cuda = cuda_available()
    if not cuda and name in CUDA_ONLY_OPTIMIZERS:
        return CPU_FALLBACK_OPTIMIZER
    return name


def resolve_bf16(cfg: TrainingConfig, *, cuda: bool | None = None) -> bool:
    if cfg.bf16 is not None:
        return cfg.bf16
    if cuda is None:
        cuda = cuda_available()
    if not cuda:
        return False
    import torch

    return torch.cuda.is_bf16_supported()


def torch_dtype(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]


def get_quantization_config(cfg: QLoRAConfig):
    """``BitsAndBytesConfig`` for 4-bit loading, or None when quantisation is off (bitsandbytes 0.50 also runs
    NF4 on CPU)."""
    if not cfg.load_in_4bit:
        return None
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=cfg.bnb_4bit_quant_type,
        bnb_4bit_compute_dtype=torch_dtype(cfg.bnb_4bit_compute_dtype),
        bnb_4bit_use_double_quant=cfg.bnb_4bit_use_double_quant,
    )


def get_peft_config(cfg: QLoRAConfig):
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules),
        bias=cfg.bias,
        task_type="CAUSAL_LM",
    )


def get_training_args(cfg: TrainingConfig, output_dir: str, *, cuda: bool | None = None):
    """``trl.SFTConfig`` for the schedule: completion-only loss on the assistant turn, best checkpoint by
    validation loss, no external loggers."""
    from trl import SFTConfig

    if cuda is None:
        cuda = cuda_available()
    eval_steps = cfg.eval_steps
    if cfg.max_steps > 0:
        eval_steps = min(eval_steps, cfg.max_steps)  # a short run still validates (and keeps a best checkpoint)
    return SFTConfig(
        output_dir=output_dir,
        learning_rate=cfg.learning_rate,
        optim=resolve_optimizer(cfg.optim, cuda=cuda),
        warmup_steps=cfg.warmup_steps,
        lr_scheduler_type=cfg.lr_scheduler_type,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_train_epochs=cfg.num_train_epochs,
        max_steps=cfg.max_steps,
        eval_strategy=cfg.eval_strategy,
        eval_steps=eval_steps,
        save_strategy=cfg.eval_strategy,
        save_steps=eval_steps,
        save_total_limit=cfg.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model="eval_pred_acc" if cfg.selection_metric == SELECT_PRED_ACC else "eval_loss",
        greater_is_better=cfg.selection_metric == SELECT_PRED_ACC,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        max_length=cfg.max_length,
        completion_only_loss=True,
        activation_checkpointing=cfg.gradient_checkpointing,  # transformers 5 name of gradient checkpointing
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        bf16=resolve_bf16(cfg, cuda=cuda),
        use_cpu=not cuda,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )
