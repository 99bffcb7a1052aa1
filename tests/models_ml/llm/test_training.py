import json
from pathlib import Path

import pytest
import torch

from models_ml.llm.training import (
    ERR_BASE_MODEL_NOT_FOUND,
    ERR_NO_CHAT_TEMPLATE,
    STATUS_CANCELLED,
    STATUS_COMPLETED,
    TrainingError,
    fit_to_length,
    train,
)

from .conftest import make_record, tiny_job

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def test_qlora_run_completes_and_saves_adapter_tokenizer_and_metrics(qlora_run):
    result = qlora_run["result"]
    out = Path(result.output_dir)
    assert result.status == STATUS_COMPLETED and not result.cancelled
    assert (out / "adapter_config.json").is_file()
    assert (out / "adapter_model.safetensors").is_file()
    assert (out / "tokenizer_config.json").is_file()
    assert not (out / "checkpoints").exists()
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["status"] == STATUS_COMPLETED
    assert metrics["global_step"] == 3
    assert metrics["eval_loss"] > 0 and metrics["train_loss"] > 0
    assert metrics["optimizer"] == ("adamw_8bit" if torch.cuda.is_available() else "adamw_torch")  # CPU fallback
    adapter_cfg = json.loads((out / "adapter_config.json").read_text())
    assert adapter_cfg["r"] == 8 and adapter_cfg["lora_alpha"] == 16
    assert set(adapter_cfg["target_modules"]) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }


def test_qlora_run_never_trains_on_the_99_100_test_dialogues(qlora_run):
    metrics = qlora_run["result"].metrics
    test_ids = {r.id for r in qlora_run["records"] if r.score >= 99}
    assert set(metrics["test_ids"]) == test_ids
    assert metrics["test_dialogues"] == 3
    assert metrics["train_dialogues"] + metrics["validation_dialogues"] == len(qlora_run["records"]) - 3


def test_qlora_updates_lora_weights_and_keeps_quantised_base_weights(qlora_run):
    before, after = qlora_run["snapshots"]["before"], qlora_run["snapshots"]["after"]
    lora_b = [n for n in before if "lora_B" in n]
    assert len(lora_b) == 2 * 7  # 2 layers x 7 target modules
    assert any(not torch.equal(before[n], after[n]) for n in lora_b)
    base = [n for n in before if "lora_" not in n]
    quantised = [n for n in base if before[n].dtype == torch.uint8]
    assert quantised, "base linear layers should be 4-bit (uint8 storage)"
    assert all(torch.equal(before[n], after[n]) for n in base)


def test_qlora_run_reports_progress_with_loss_eval_loss_and_epoch(qlora_run):
    progress = qlora_run["progress"]
    assert progress[0][0] == 0 and progress[0][1] == 3
    assert any("loss" in logs for _, _, logs in progress)
    assert any("eval_loss" in logs for _, _, logs in progress)
    assert all("epoch" in logs for _, _, logs in progress)
    assert max(step for step, _, _ in progress) == 3


def test_the_best_checkpoints_final_evaluation_is_reported_apart_from_the_validation_curve(qlora_run):
    progress, metrics = qlora_run["progress"], qlora_run["result"].metrics
    finals = [logs for _, _, logs in progress if "best_eval_loss" in logs]
    assert len(finals) == 1 and "eval_loss" not in finals[0]
    assert finals[0]["best_eval_loss"] == pytest.approx(metrics["eval_loss"])
    assert finals[0]["best_step"] == int(metrics["best_checkpoint"].rsplit("-", 1)[1])
    curve = [logs["eval_loss"] for _, _, logs in progress if "eval_loss" in logs]
    assert min(curve) == pytest.approx(metrics["best_eval_loss"])  # the best checkpoint is the curve's minimum


def test_should_stop_cancels_gracefully_without_saving_an_adapter(tiny_base_model, invented_records, tmp_path):
    steps_seen = []
    result = train(
        tiny_job(tiny_base_model, max_steps=50),
        invented_records,
        tmp_path,
        progress_cb=lambda step, total, logs: steps_seen.append(step),
        should_stop=lambda: len(steps_seen) >= 3,
    )
    assert result.cancelled and result.status == STATUS_CANCELLED
    assert result.adapter_dir is None
    assert result.metrics["global_step"] < 50
    assert not (tmp_path / "adapter_model.safetensors").exists()
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == STATUS_CANCELLED


def test_should_stop_before_start_does_not_load_the_model(tiny_base_model, invented_records, tmp_path):
    result = train(tiny_job(tiny_base_model), invented_records, tmp_path, should_stop=lambda: True)
    assert result.cancelled
    assert "global_step" not in result.metrics


def test_score_task_trains_on_prompt_completion_examples(tiny_base_model, tmp_path):
    records = [make_record(i, 50 + i * 3) for i in range(10)]
    result = train(tiny_job(tiny_base_model, task="score", max_steps=2, max_length=1024), records, tmp_path)
    assert result.status == STATUS_COMPLETED
    assert result.metrics["test_dialogues"] == 1 and result.metrics["validation_dialogues"] == 1
    expected = "adamw_torch_fused" if torch.cuda.is_available() else "adamw_torch"  # CPU fallback
    assert result.metrics["optimizer"] == expected


def test_missing_base_model_is_a_clear_error(invented_records, tmp_path):
    with pytest.raises(TrainingError) as exc:
        train(tiny_job(tmp_path / "nope"), invented_records, tmp_path / "out")
    assert str(exc.value) == ERR_BASE_MODEL_NOT_FOUND.format(path=str(tmp_path / "nope"))


def test_base_model_without_chat_template_is_rejected(tiny_base_model, invented_records, tmp_path):
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(tiny_base_model, copy)
    for name in ("chat_template.jinja",):
        (copy / name).unlink(missing_ok=True)
    cfg = json.loads((copy / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (copy / "tokenizer_config.json").write_text(json.dumps(cfg))
    with pytest.raises(TrainingError, match=ERR_NO_CHAT_TEMPLATE):
        train(tiny_job(copy), invented_records, tmp_path / "out")


def test_fit_to_length_drops_oldest_turns_and_keeps_system_and_completion(tiny_base_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base_model)
    turns = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": "眠れない日が続いています。" * 3} for i in range(21)
    ]
    example = {
        "prompt": [{"role": "system", "content": "sys"}, *turns],
        "completion": [{"role": "assistant", "content": "そうですか。"}],
    }
    full = len(tok.apply_chat_template(example["prompt"] + example["completion"], return_dict=False))
    fitted = fit_to_length(example, tok, full // 3)
    assert fitted["prompt"][0]["content"] == "sys"
    assert fitted["completion"] == example["completion"]
    assert 1 < len(fitted["prompt"]) < len(example["prompt"])
    assert fitted["prompt"][1]["role"] == "user"
    assert len(tok.apply_chat_template(fitted["prompt"] + fitted["completion"], return_dict=False)) <= full // 3


def test_fit_to_length_cuts_the_head_of_an_over_long_transcript(tiny_base_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_base_model)
    transcript = "".join(f"クライアント: 眠れない日が{i}日続いています。\n" for i in range(60))
    example = {
        "prompt": [{"role": "system", "content": "sys"}, {"role": "user", "content": transcript}],
        "completion": [{"role": "assistant", "content": "要約: 3"}],
    }
    fitted = fit_to_length(example, tok, 300)
    content = fitted["prompt"][1]["content"]
    assert content.startswith("…") and transcript.endswith(content[1:])
    assert len(tok.apply_chat_template(fitted["prompt"] + fitted["completion"], return_dict=False)) <= 300
    assert fit_to_length(example, tok, 5) is None
