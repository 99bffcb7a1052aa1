"""A real QLoRA run (tiny random Llama, NF4 on CPU) through the job code: start → Celery task → train →
ModelVersion → generation backend."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from django.db import connection

from models_ml.finetuning import selectors, services
from models_ml.finetuning.models import Backend, JobStatus, ModelKind, ModelVersion
from models_ml.llm.backends import get_backend
from tests.models_ml.finetuning.conftest import SCORES, make_scored_session, tiny_hyperparameters

pytestmark = pytest.mark.slow


def test_queued_job_trains_saves_adapter_registers_model_and_streams(
    scored_sessions, tiny_base_model, staff_user, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    job = services.finetune_job_create(
        task="response",
        base_model=str(tiny_base_model),
        data_subset="full",
        hyperparameters=tiny_hyperparameters(),
        max_steps=3,
        created_by=staff_user,
    )
    assert job.status == JobStatus.QUEUED
    with django_capture_on_commit_callbacks(execute=True):
        services.finetune_job_start(job=job)
    job.refresh_from_db()
    if job.status == JobStatus.QUEUED:  # services mode: the message went to Redis; run it like the worker does
        from models_ml.finetuning.tasks import gpu_finetune

        gpu_finetune.apply(args=[job.pk], task_id=job.celery_task_id)
        job.refresh_from_db()

    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.step == job.total_steps == 3
    assert job.percent == 100
    assert job.heartbeat_at is not None and job.started_at <= job.finished_at
    adapter = Path(job.adapter_path)
    assert (adapter / "adapter_config.json").is_file()
    assert (adapter / "adapter_model.safetensors").is_file()
    assert (adapter / "tokenizer_config.json").is_file()
    assert not (adapter / "checkpoints").exists()
    # Training data: the "full" subset (score <= 98) minus nothing else; the 99 dialogue is never trained on.
    expected = sum(1 for s in SCORES if s <= 98)
    assert job.metrics["train_dialogues"] + job.metrics["validation_dialogues"] == expected
    train_points = [p for p in job.loss_history if "loss" in p]
    eval_points = [p for p in job.loss_history if "eval_loss" in p]
    assert [p["step"] for p in train_points] == [1, 2, 3]
    assert eval_points and eval_points[-1]["step"] == 3
    assert any("validation loss" in line for line in job.log_tail)
    assert len(eval_points) == len([line for line in job.log_tail if "/3 validation loss" in line])
    assert "Best checkpoint (step " in job.log_tail[-2]  # then "Done: adapter saved ..."
    assert len(job.log_tail) <= services.LOG_TAIL_LINES
    from feedback.models import ExportAudit

    audit = ExportAudit.objects.get(channel="finetune")  # the transcripts it read are audited
    assert audit.user == staff_user and audit.fmt == "finetune-response"
    assert audit.dialogue_count == expected

    version = ModelVersion.objects.get(source_job=job)
    assert version.kind == ModelKind.COUNSELOR and version.backend == Backend.HF
    assert version.config == {"base_model": str(tiny_base_model), "adapter_path": job.adapter_path}
    assert version.metrics["eval_loss"] == pytest.approx(job.metrics["eval_loss"])
    assert not version.is_active

    services.model_version_set_active(version=version, active=True)
    config = selectors.generation_backend_config(kind=ModelKind.COUNSELOR)
    assert config == {"backend": "hf", "base_model": str(tiny_base_model), "adapter_path": job.adapter_path}
    backend = get_backend(config)
    chunks = list(backend.stream([{"role": "user", "content": "眠れないんです。"}], max_new_tokens=6, do_sample=False))
    assert chunks and all(isinstance(c, str) for c in chunks)


def test_score_job_registers_a_scorer_model(db, tiny_base_model, django_capture_on_commit_callbacks):
    for i, score in enumerate([85, 90, 72, 60, 40, 88, 99, 66]):
        make_scored_session(i, score, turns=2)
    job = services.finetune_job_create(
        task="score",
        base_model=str(tiny_base_model),
        hyperparameters=tiny_hyperparameters(max_length=512, per_device_train_batch_size=1),
        max_steps=1,
    )
    assert job.data_subset == "all"
    services.finetune_job_claim(job_id=job.pk, hostname="test")
    assert services.finetune_job_execute(job_id=job.pk) == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.metrics["test_dialogues"] == 1  # 8:1:1 of 8 dialogues
    assert ModelVersion.objects.get(source_job=job).kind == ModelKind.SCORER
    # the held-out split is kept with the job (the LLM scorer's evaluation uses exactly it)
    split = job.metrics["split_ids"]
    assert len(split["test"]) == 1 and len(split["train"]) + len(split["validation"]) == 7
    from feedback.models import Feedback

    eids = {str(e) for e in Feedback.objects.values_list("evaluation_id", flat=True)}
    assert set(split["train"]) | set(split["validation"]) | set(split["test"]) == eids
    assert job.metrics["selection"]["metric"] == "pred_acc"


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_job_stops_training_without_an_adapter(tiny_base_model, settings):
    for i, score in enumerate([85, 90, 72, 78, 60, 40]):
        make_scored_session(i, score, turns=2)
    job = services.finetune_job_create(
        task="response", base_model=str(tiny_base_model), hyperparameters=tiny_hyperparameters(), max_steps=2000
    )
    assert services.finetune_job_claim(job_id=job.pk, hostname="test")
    outcome: list[str] = []

    def run() -> None:
        try:
            outcome.append(services.finetune_job_execute(job_id=job.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.step >= 2:
            break
        time.sleep(0.1)
    assert job.status == JobStatus.RUNNING and job.step >= 2, job.error
    services.finetune_job_cancel(job=job)
    worker.join(60)
    assert not worker.is_alive()
    job.refresh_from_db()
    assert outcome == [JobStatus.CANCELLED]
    assert job.status == JobStatus.CANCELLED
    assert job.step < 2000
    assert job.adapter_path == ""
    assert not ModelVersion.objects.filter(source_job=job).exists()
    assert any("Cancelled" in line for line in job.log_tail)
