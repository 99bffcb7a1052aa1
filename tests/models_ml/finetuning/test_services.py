from __future__ import annotations

import re

import pytest

from models_ml.finetuning import selectors, services
from models_ml.finetuning.models import FineTuneJob, JobStatus, ModelVersion
from models_ml.llm.config import JobConfig
from tests.models_ml.finetuning.conftest import tiny_hyperparameters


def _create(**overrides):
    kwargs = {"task": "response", "base_model": "/models/base", "hyperparameters": tiny_hyperparameters()}
    kwargs.update(overrides)
    return services.finetune_job_create(**kwargs)


def test_create_stores_the_paper_defaults_as_a_job_config(scored_sessions):
    job = services.finetune_job_create(task="response", base_model="/models/base", max_steps=50)
    paper = JobConfig(base_model="/models/base", task="response").to_dict()
    paper["training"]["max_steps"] = 50
    assert job.hyperparameters == paper
    assert job.data_subset == "full" and job.status == JobStatus.QUEUED
    assert job.hyperparameters["training"]["learning_rate"] == 1e-3
    assert job.hyperparameters["qlora"]["lora_r"] == 8 and job.hyperparameters["qlora"]["lora_alpha"] == 16


def test_score_task_defaults_to_all_dialogues_and_its_own_paper_schedule(scored_sessions):
    job = services.finetune_job_create(task="score", base_model="/models/base")
    assert job.data_subset == "all"
    assert job.hyperparameters["training"]["learning_rate"] == 2e-4
    assert job.hyperparameters["training"]["per_device_train_batch_size"] == 4


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        ({"training": {"learning_rate": "fast"}}, services.ERR_HP_TYPE),
        ({"training": {"learning_rate": 5.0}}, services.ERR_HP_RANGE),
        ({"training": {"per_device_train_batch_size": 2.5}}, services.ERR_HP_TYPE),
        ({"training": {"per_device_train_batch_size": 0}}, services.ERR_HP_INVALID),
        ({"training": {"num_train_epochs": 0}}, services.ERR_HP_RANGE),
        ({"training": {"gradient_checkpointing": "yes"}}, services.ERR_HP_TYPE),
        ({"training": {"warmup_steps": -1}}, services.ERR_HP_RANGE),
        ({"training": {"eval_strategy": "sometimes"}}, services.ERR_HP_INVALID),
        ({"training": {"nonsense": 1}}, services.ERR_HP_UNKNOWN),
        ({"qlora": {"lora_r": True}}, services.ERR_HP_TYPE),
        ({"qlora": {"lora_dropout": 1.5}}, services.ERR_HP_INVALID),
        ({"qlora": {"target_modules": "q_proj"}}, services.ERR_HP_TYPE),
        ({"qlora": {"bnb_4bit_quant_type": "int3"}}, services.ERR_HP_INVALID),
        ({"qlora": []}, services.ERR_HP_SECTION),
        ({"epochs": 3}, services.ERR_HP_UNKNOWN),
        ({"target_role": "observer"}, services.ERR_TARGET_ROLE),
        ({"system_prompt": "x" * 5000}, services.ERR_SYSTEM_PROMPT),
        (["not", "an", "object"], services.ERR_HP_NOT_OBJECT),
    ],
)
def test_bad_hyperparameters_are_rejected_with_a_clear_error_and_nothing_saved(
    scored_sessions, hyperparameters, message
):
    with pytest.raises(services.PartnersError) as exc:
        _create(hyperparameters=hyperparameters)
    prefix = str(message).split("%")[0]
    assert exc.value.message.startswith(prefix)
    assert FineTuneJob.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"task": "translate"}, services.ERR_TASK),
        ({"base_model": "   "}, services.ERR_BASE_MODEL),
        ({"base_model": "/m\x00odel"}, services.ERR_BASE_MODEL),
        ({"base_model": "/" + "m" * 600}, services.ERR_BASE_MODEL_LONG),
        ({"max_steps": 0}, services.ERR_MAX_STEPS),
        ({"data_subset": "secret"}, services.ERR_SUBSET),
    ],
)
def test_bad_job_settings_are_rejected_and_nothing_saved(scored_sessions, overrides, message):
    with pytest.raises(services.PartnersError) as exc:
        _create(**overrides)
    assert exc.value.message.startswith(str(message).split("%")[0])
    assert FineTuneJob.objects.count() == 0


def test_too_few_dialogues_for_the_subset_is_an_error(db):
    with pytest.raises(services.PartnersError) as exc:
        _create(data_subset="high")
    assert exc.value.message == str(services.ERR_TOO_FEW_DIALOGUES % {"count": 0, "minimum": services.MIN_DIALOGUES})
    assert FineTuneJob.objects.count() == 0


def test_subset_counts_follow_the_dataset_exporter(scored_sessions):
    counts = selectors.subset_counts()
    assert counts == {"full": 11, "low": 3, "high": 8, "all": 12}


def test_cancelling_a_queued_job_is_immediate_and_the_task_then_skips_it(scored_sessions):
    from models_ml.finetuning.tasks import gpu_finetune

    job = _create()
    job = services.finetune_job_cancel(job=job)
    assert job.status == JobStatus.CANCELLED and job.finished_at is not None
    assert gpu_finetune.apply(args=[job.pk]).get() == "skipped"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and job.started_at is None


def test_cancel_and_retry_refuse_the_wrong_states(scored_sessions):
    job = _create()
    with pytest.raises(services.PartnersError, match=re.escape(str(services.ERR_RETRY_STATE))):
        services.finetune_job_retry(job=job)
    FineTuneJob.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    job.refresh_from_db()
    with pytest.raises(services.PartnersError, match=re.escape(str(services.ERR_CANCEL_STATE))):
        services.finetune_job_cancel(job=job)
    with pytest.raises(services.PartnersError, match=re.escape(str(services.ERR_START_STATE))):
        services.finetune_job_start(job=job)


def test_a_job_is_claimed_only_once(scored_sessions):
    job = _create()
    assert services.finetune_job_claim(job_id=job.pk, hostname="w1")
    assert not services.finetune_job_claim(job_id=job.pk, hostname="w2")
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING and job.worker_hostname == "w1"


def test_missing_base_model_fails_the_job_with_the_reason(scored_sessions, tmp_path):
    job = _create(base_model=str(tmp_path / "nowhere"))
    services.finetune_job_claim(job_id=job.pk)
    assert services.finetune_job_execute(job_id=job.pk) == JobStatus.FAILED
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "does not exist" in job.error and str(tmp_path / "nowhere") in job.error
    assert job.error in job.log_tail[-1]


def test_running_job_retry_creates_a_new_queued_job_with_the_same_settings(scored_sessions):
    job = _create(max_steps=7)
    services.finetune_job_fail(job_id=job.pk, reason="boom")
    job.refresh_from_db()
    new = services.finetune_job_retry(job=job)
    assert new.pk != job.pk and new.retry_of_id == job.pk and new.status == JobStatus.QUEUED
    assert new.hyperparameters == job.hyperparameters and new.max_steps == 7
    assert new.celery_task_id


def test_model_versions_never_store_api_keys_and_resolve_them_from_the_environment(db, monkeypatch):
    with pytest.raises(services.PartnersError, match="API"):
        services.model_version_create(
            name="x",
            kind="counselor",
            backend="openai",
            config={"base_url": "http://x/v1", "model": "m", "api_key": "s"},
        )
    with pytest.raises(services.PartnersError):
        services.model_version_create(name="x", kind="counselor", backend="openai", config={"base_url": "http://x/v1"})
    version = services.model_version_create(
        name="vllm",
        kind="counselor",
        backend="openai",
        config={"base_url": "http://127.0.0.1:8000/v1", "model": "swallow", "api_key_env": "KOKORO_TEST_KEY"},
        is_active=True,
    )
    monkeypatch.setenv("KOKORO_TEST_KEY", "sk-test")
    assert version.backend_config() == {
        "backend": "openai",
        "base_url": "http://127.0.0.1:8000/v1",
        "model": "swallow",
        "api_key": "sk-test",
    }
    assert "sk-test" not in str(ModelVersion.objects.get(pk=version.pk).config)


def test_generation_config_prefers_trained_models_then_settings_then_retrieval(db, settings):
    with pytest.raises(selectors.NoModelError):
        selectors.generation_backend_config(kind="counselor")
    retrieval = services.model_version_create(
        name="r", kind="counselor", backend="retrieval", config={"index_path": "/x.joblib"}, is_active=True
    )
    assert selectors.generation_backend_config(kind="counselor")["index_path"] == "/x.joblib"
    settings.KOKORO_GENERATION_BACKENDS = {"counselor": {"backend": "openai", "base_url": "", "model": ""}}
    assert selectors.generation_backend_config(kind="counselor")["backend"] == "retrieval"  # unset env: ignored
    settings.KOKORO_GENERATION_BACKENDS = {
        "counselor": {"backend": "openai", "base_url": "http://h/v1", "model": "m", "api_key_env": "NOPE_UNSET"}
    }
    assert selectors.generation_backend_config(kind="counselor") == {
        "backend": "openai",
        "base_url": "http://h/v1",
        "model": "m",
    }
    hf = services.model_version_create(
        name="h", kind="counselor", backend="hf", config={"base_model": "/b", "adapter_path": "/a"}, is_active=True
    )
    assert selectors.generation_backend_config(kind="counselor")["adapter_path"] == "/a"
    assert selectors.generation_backend_config(kind="counselor", version_id=retrieval.pk)["backend"] == "retrieval"
    services.model_version_set_active(version=hf, active=False)
    with pytest.raises(selectors.NoModelError):
        selectors.generation_backend_config(kind="counselor", version_id=hf.pk)


def test_retrieval_index_is_built_from_high_scored_sessions_and_answers(scored_sessions):
    from feedback.models import ExportAudit
    from models_ml.llm.backends import get_backend

    version = services.retrieval_index_build(role="counselor")
    assert version.is_active and version.backend == "retrieval"
    assert version.metrics["dialogues"] == 8  # scores 70-98 only
    audit = ExportAudit.objects.get(channel="retrieval")
    assert (audit.fmt, audit.dialogue_count, audit.params["subset"]) == ("retrieval-counselor", 8, "high")
    backend = get_backend(selectors.generation_backend_config(kind="counselor"))
    reply = backend.generate([{"role": "user", "content": "最近、仕事のことで夜あまり眠れなくて。"}])
    assert reply.strip()


def test_retrieval_index_without_high_scored_sessions_is_a_clear_error(db):
    with pytest.raises(services.PartnersError, match=re.escape(str(services.ERR_RETRIEVAL_EMPTY))):
        services.retrieval_index_build(role="client")
    assert not ModelVersion.objects.exists()
