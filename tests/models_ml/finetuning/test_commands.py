from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from models_ml.finetuning.models import FineTuneJob, JobStatus, ModelVersion
from tests.models_ml.finetuning.conftest import tiny_hyperparameters


@pytest.mark.slow
def test_finetune_wait_runs_a_cpu_smoke_job_in_process(scored_sessions, tiny_base_model, capsys):
    call_command(
        "finetune",
        "--base-model",
        str(tiny_base_model),
        "--subset",
        "high",
        "--max-steps",
        "2",
        "--hyperparameters",
        json.dumps(tiny_hyperparameters()),
        "--wait",
    )
    job = FineTuneJob.objects.get()
    assert job.status == JobStatus.SUCCEEDED and job.step == 2 and job.data_subset == "high"
    assert job.hyperparameters["training"]["learning_rate"] == 1e-3  # paper default kept under the override
    assert "(inline)" in job.worker_hostname
    assert ModelVersion.objects.filter(source_job=job, backend="hf").exists()
    out = capsys.readouterr().out
    assert f"Job #{job.pk} succeeded" in out


def test_finetune_rejects_bad_hyperparameters_without_saving(scored_sessions):
    with pytest.raises(CommandError, match="training.learning_rate"):
        call_command(
            "finetune", "--base-model", "/m", "--hyperparameters", '{"training": {"learning_rate": "x"}}', "--wait"
        )
    with pytest.raises(CommandError, match="JSON"):
        call_command("finetune", "--base-model", "/m", "--hyperparameters", "{oops")
    assert FineTuneJob.objects.count() == 0


def test_finetune_wait_reports_a_failed_job(scored_sessions, tmp_path):
    with pytest.raises(CommandError, match="failed"):
        call_command("finetune", "--base-model", str(tmp_path / "none"), "--wait", "--max-steps", "1")
    assert FineTuneJob.objects.get().status == JobStatus.FAILED


def test_finetune_list_and_cancel(scored_sessions, capsys, settings):
    job = FineTuneJob.objects.create(task="response", data_subset="full", base_model="/m", hyperparameters={})
    call_command("finetune", "--list")
    assert f"#{job.pk}" in capsys.readouterr().out
    call_command("finetune", "--cancel", str(job.pk))
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    with pytest.raises(CommandError):
        call_command("finetune", "--cancel", str(job.pk))
    with pytest.raises(CommandError, match="No job"):
        call_command("finetune", "--cancel", "999999")


def test_build_retrieval_index_command_registers_both_partners(scored_sessions, capsys):
    call_command("build_retrieval_index")
    kinds = set(ModelVersion.objects.filter(backend="retrieval", is_active=True).values_list("kind", flat=True))
    assert kinds == {"counselor", "client"}


def test_build_retrieval_index_command_without_data_is_an_error(db):
    with pytest.raises(CommandError, match="70"):
        call_command("build_retrieval_index", "--role", "counselor")
