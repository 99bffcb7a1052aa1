import dataclasses

import pytest
import torch

from models_ml.llm.config import (
    CPU_FALLBACK_OPTIMIZER,
    ERR_UNKNOWN_FIELD,
    ERR_UNKNOWN_TASK,
    JobConfig,
    QLoRAConfig,
    TrainingConfig,
    get_peft_config,
    get_quantization_config,
    get_training_args,
    help_texts,
    resolve_optimizer,
)

PAPER_MODULES = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.mark.parametrize("cls", [QLoRAConfig, TrainingConfig, JobConfig])
def test_every_config_field_has_help_text(cls):
    assert all(text for text in help_texts(cls).values())
    assert set(help_texts(cls)) == {f.name for f in dataclasses.fields(cls)}


def test_quantization_defaults_are_nf4_with_bfloat16_compute():
    q = get_quantization_config(QLoRAConfig())
    assert q.load_in_4bit and q.bnb_4bit_quant_type == "nf4"
    assert q.bnb_4bit_compute_dtype == torch.bfloat16
    assert get_quantization_config(QLoRAConfig(load_in_4bit=False)) is None


def test_lora_defaults_follow_the_paper():
    lora = get_peft_config(QLoRAConfig())
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (8, 16, 0.05)
    assert set(lora.target_modules) == PAPER_MODULES
    assert lora.task_type == "CAUSAL_LM"


def test_response_task_defaults_follow_the_paper(tmp_path):
    cfg = TrainingConfig.for_task("response")
    args = get_training_args(cfg, str(tmp_path), cuda=True)
    assert args.optim == "adamw_8bit" or args.optim.value == "adamw_8bit"
    assert (args.learning_rate, args.warmup_steps, args.per_device_train_batch_size, args.num_train_epochs) == (
        1e-3,
        100,
        8,
        5,
    )
    assert str(args.eval_strategy.value) == "steps" and args.eval_steps == 400
    assert args.load_best_model_at_end and args.metric_for_best_model == "eval_loss" and not args.greater_is_better
    assert args.completion_only_loss is True


def test_score_task_defaults_follow_the_paper(tmp_path):
    cfg = TrainingConfig.for_task("score")
    args = get_training_args(cfg, str(tmp_path), cuda=True)
    assert str(args.optim.value) == "adamw_torch_fused"
    assert (args.learning_rate, args.warmup_steps, args.per_device_train_batch_size, args.num_train_epochs) == (
        2e-4,
        100,
        4,
        4,
    )
    assert str(args.eval_strategy.value) == "epoch" and str(args.save_strategy.value) == "epoch"


@pytest.mark.parametrize("name", ["adamw_8bit", "adamw_torch_fused", "paged_adamw_8bit"])
def test_cuda_only_optimizers_fall_back_to_adamw_torch_on_cpu(name):
    assert resolve_optimizer(name, cuda=False) == CPU_FALLBACK_OPTIMIZER
    assert resolve_optimizer(name, cuda=True) == name


def test_cpu_training_args_use_the_fallback_and_no_bf16(tmp_path):
    args = get_training_args(TrainingConfig.for_task("response"), str(tmp_path), cuda=False)
    assert str(args.optim.value) == CPU_FALLBACK_OPTIMIZER
    assert args.use_cpu and not args.bf16


def test_max_steps_override_shortens_the_validation_interval(tmp_path):
    args = get_training_args(TrainingConfig.for_task("response", max_steps=5), str(tmp_path), cuda=False)
    assert args.max_steps == 5 and args.eval_steps == 5 and args.save_steps == 5


def test_job_config_round_trips_through_a_json_dict():
    job = JobConfig(base_model="/models/x", task="score", training=TrainingConfig.for_task("score", max_steps=7))
    again = JobConfig.from_dict(job.to_dict())
    assert again == job
    assert JobConfig.from_dict({"base_model": "/m", "task": "score"}).training.learning_rate == 2e-4


def test_unknown_task_and_fields_are_rejected():
    with pytest.raises(ValueError, match="Unknown task"):
        JobConfig(base_model="/m", task="chat")
    with pytest.raises(ValueError) as exc:
        JobConfig.from_dict({"base_model": "/m", "qlora": {"rank": 4}})
    assert str(exc.value) == ERR_UNKNOWN_FIELD.format(name="QLoRAConfig", fields="rank")
    assert ERR_UNKNOWN_TASK.format(task="x").startswith("Unknown task")


@pytest.mark.parametrize(
    "bad",
    [{"qlora": {"lora_r": 0}}, {"qlora": {"bnb_4bit_quant_type": "int4"}}, {"training": {"learning_rate": -1}}],
)
def test_invalid_values_are_rejected(bad):
    with pytest.raises(ValueError, match="Invalid value"):
        JobConfig.from_dict({"base_model": "/m", **bad})
