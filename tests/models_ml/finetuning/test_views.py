from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape

from models_ml.finetuning import services
from models_ml.finetuning.models import FineTuneJob, JobStatus, ModelVersion, RoleCard
from models_ml.jobs.services import ERR_WORKER_LOST
from tests.models_ml.finetuning.conftest import tiny_hyperparameters


def _job(**fields) -> FineTuneJob:
    values = {"task": "response", "data_subset": "full", "base_model": "/models/base", "hyperparameters": {}}
    values.update(fields)
    return FineTuneJob.objects.create(**values)


def _pages(job_id: int, card_id: int, version_id: int) -> list[tuple[str, str]]:
    return [
        ("get", reverse("partners:jobs")),
        ("get", reverse("partners:job_create")),
        ("post", reverse("partners:job_create")),
        ("get", reverse("partners:job_detail", args=[job_id])),
        ("get", reverse("partners:job_progress", args=[job_id])),
        ("post", reverse("partners:job_cancel", args=[job_id])),
        ("post", reverse("partners:job_retry", args=[job_id])),
        ("get", reverse("partners:role_cards")),
        ("get", reverse("partners:role_card_create")),
        ("post", reverse("partners:role_cards_load_examples")),
        ("get", reverse("partners:role_card_edit", args=[card_id])),
        ("post", reverse("partners:role_card_toggle", args=[card_id])),
        ("get", reverse("partners:models")),
        ("post", reverse("partners:model_toggle", args=[version_id])),
        ("post", reverse("partners:model_build_retrieval")),
    ]


@pytest.fixture
def objects(db):
    job = _job(status=JobStatus.FAILED)
    services.role_cards_load_examples()
    card = RoleCard.objects.first()
    version = ModelVersion.objects.create(name="v", kind="counselor", backend="hf", config={"base_model": "/b"})
    return job, card, version


def test_every_page_is_403_for_non_staff_and_changes_nothing(client, plain_user, objects):
    job, card, version = objects
    client.force_login(plain_user)
    for method, url in _pages(job.pk, card.pk, version.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 403, url
    assert FineTuneJob.objects.count() == 1 and RoleCard.objects.filter(is_active=False).count() == 0
    assert not ModelVersion.objects.get(pk=version.pk).is_active


def test_anonymous_visitors_are_sent_to_the_login_page(client, objects):
    job, card, version = objects
    for method, url in _pages(job.pk, card.pk, version.pk):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_jobs_list_shows_status_badges_and_reaps_stale_jobs(client, staff_user):
    stale = _job(status=JobStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=2), worker_hostname="w@g")
    _job(status=JobStatus.SUCCEEDED, step=10, total_steps=10)
    client.force_login(staff_user)
    html = client.get(reverse("partners:jobs")).content.decode()
    assert "pt-status-succeeded" in html and "pt-status-failed" in html
    stale.refresh_from_db()
    assert stale.status == JobStatus.FAILED and stale.error.startswith(f"{ERR_WORKER_LOST % {'minutes': 10}} (w@g, ")


def test_create_form_is_prefilled_with_the_paper_defaults_for_both_tasks(client, staff_user, scored_sessions):
    client.force_login(staff_user)
    response = client.get(reverse("partners:job_create"))
    form = response.context["form"]
    initial = json.loads(form.initial["hyperparameters"])
    assert initial["training"]["learning_rate"] == 1e-3 and initial["qlora"]["lora_r"] == 8
    defaults = response.context["defaults"]
    assert defaults["score"]["training"]["learning_rate"] == 2e-4
    assert response.context["subset_counts"]["full"] == 11
    assert 'id="pt-defaults"' in response.content.decode()


@pytest.fixture
def model_dir(tmp_path):
    """A folder that looks like a model to the form (config.json); loading it still fails in the job."""
    folder = tmp_path / "base-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}", encoding="utf-8")
    return folder


def _post_data(model_dir, **overrides) -> dict:
    data = {
        "task": "response",
        "target_role": "counselor",
        "data_subset": "full",
        "base_model": str(model_dir),
        "max_steps": "5",
        "hyperparameters": json.dumps(tiny_hyperparameters()),
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"hyperparameters": "{not json"}, str(services.ERR_HP_BAD_JSON).split("%")[0]),
        ({"hyperparameters": "[1, 2]"}, str(services.ERR_HP_NOT_OBJECT)),
        ({"hyperparameters": json.dumps({"training": {"learning_rate": "fast"}})}, "training.learning_rate"),
        ({"max_steps": "0"}, ""),
        ({"base_model": ""}, ""),
    ],
)
def test_bad_job_form_shows_the_error_and_saves_nothing(
    client, staff_user, scored_sessions, model_dir, overrides, expected
):
    client.force_login(staff_user)
    response = client.post(reverse("partners:job_create"), _post_data(model_dir, **overrides))
    assert response.status_code == 200
    assert response.context["form"].errors
    assert expected in response.content.decode().replace("&quot;", '"').replace("&#x27;", "'")
    assert FineTuneJob.objects.count() == 0


@pytest.mark.parametrize(
    ("base_model", "expected"),
    [
        ("{tmp}/nowhere", services.ERR_BASE_MODEL_NO_FOLDER),
        ("{tmp}", services.ERR_BASE_MODEL_NO_CONFIG),
        ("kokoro-test/not-cached-model", services.ERR_BASE_MODEL_NOT_CACHED),
    ],
)
def test_a_base_model_that_cannot_be_found_is_refused_on_the_form(
    client, staff_user, scored_sessions, tmp_path, monkeypatch, base_model, expected
):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # empty: nothing is found there
    client.force_login(staff_user)
    value = base_model.format(tmp=tmp_path)
    response = client.post(reverse("partners:job_create"), _post_data(tmp_path, base_model=value))
    assert response.status_code == 200 and FineTuneJob.objects.count() == 0
    errors = response.context["form"].errors["base_model"]
    detail = {"path": value, "name": value}
    assert errors == [str(expected) % detail]  # shown once, at the field, with the reason
    assert response.content.decode().count(escape(str(expected) % detail)) == 1


def test_a_model_id_in_the_hugging_face_cache_is_accepted(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    snapshot = cache / "models--kokoro-test--cached" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}", encoding="utf-8")
    (cache / "models--kokoro-test--cached" / "refs").mkdir()
    (cache / "models--kokoro-test--cached" / "refs" / "main").write_text("0" * 40, encoding="utf-8")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    assert services.base_model_problem("kokoro-test/cached") is None
    assert services.base_model_problem("kokoro-test/other") == str(
        services.ERR_BASE_MODEL_NOT_CACHED % {"name": "kokoro-test/other"}
    )


def test_valid_job_form_queues_the_job_and_opens_its_page(client, staff_user, scored_sessions, model_dir):
    client.force_login(staff_user)
    response = client.post(reverse("partners:job_create"), _post_data(model_dir, task="score", data_subset="all"))
    job = FineTuneJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("partners:job_detail", args=[job.pk])
    assert job.task == "score" and job.data_subset == "all" and job.max_steps == 5 and job.created_by == staff_user
    assert job.hyperparameters["training"]["per_device_train_batch_size"] == 2
    assert job.celery_task_id
    # Embedded mode runs it at once and it fails on the missing model; services mode leaves it queued.
    assert job.status in (JobStatus.QUEUED, JobStatus.FAILED)
    if job.status == JobStatus.FAILED:
        assert "/models/not-here" in job.error


def test_running_job_page_polls_its_progress_fragment(client, staff_user):
    job = _job(
        status=JobStatus.RUNNING,
        step=30,
        total_steps=120,
        epoch=1.25,
        eta_seconds=5400,
        heartbeat_at=timezone.now(),
        worker_hostname="gpu1@host",
        loss_history=[{"step": 10, "epoch": 0.4, "loss": 2.5}, {"step": 20, "epoch": 0.8, "eval_loss": 2.1}],
        log_tail=["10:00:00 step 10/120 loss 2.5000", "10:00:01 <b>not markup</b>"],
    )
    client.force_login(staff_user)
    html = client.get(reverse("partners:job_detail", args=[job.pk])).content.decode()
    assert f'hx-get="{reverse("partners:job_progress", args=[job.pk])}"' in html
    # Progress is pushed over ws/jobs/ (jobs_live.js subscribes to data-job); polling is the slow fallback.
    assert 'hx-trigger="every 15s, job-changed"' in html and f'data-job="finetune:{job.pk}"' in html
    assert "chart-4.6.1.umd.min.js" in html and "partners_job.js" in html and "jobs_live.js" in html
    fragment = client.get(reverse("partners:job_progress", args=[job.pk]), HTTP_HX_REQUEST="true")
    text = fragment.content.decode()
    assert "<html" not in text
    assert '<strong data-job-field="step">30</strong> / <span data-job-field="total">120</span>' in text
    assert "width: 25%" in text and '<span data-job-field="percent">25</span>%' in text
    assert "残り時間 1時間30分" in text  # Japanese first
    english = client.get(reverse("partners:job_progress", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert "ETA 1 h 30 min" in english.content.decode()
    assert "&lt;b&gt;not markup&lt;/b&gt;" in text
    history = json.loads(text.split('id="pt-history" type="application/json">')[1].split("</script>")[0])
    assert history[1]["eval_loss"] == 2.1


def test_finished_job_fragment_stops_polling_and_shows_the_error(client, staff_user):
    job = _job(status=JobStatus.FAILED, error="Worker lost: test reason")
    client.force_login(staff_user)
    text = client.get(reverse("partners:job_progress", args=[job.pk])).content.decode()
    assert "hx-trigger" not in text
    assert "Worker lost: test reason" in text


def test_cancel_button_cancels_a_queued_job_and_get_is_not_allowed(client, staff_user):
    job = _job()
    client.force_login(staff_user)
    assert client.get(reverse("partners:job_cancel", args=[job.pk])).status_code == 405
    response = client.post(reverse("partners:job_cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def test_retry_button_queues_a_copy_of_a_failed_job(client, staff_user, scored_sessions):
    job = services.finetune_job_create(task="response", base_model="/models/x", hyperparameters=tiny_hyperparameters())
    services.finetune_job_fail(job_id=job.pk, reason="boom")
    client.force_login(staff_user)
    response = client.post(reverse("partners:job_retry", args=[job.pk]))
    new = FineTuneJob.objects.exclude(pk=job.pk).get()
    assert response["Location"] == reverse("partners:job_detail", args=[new.pk])
    assert new.retry_of == job and new.created_by == staff_user


def test_retry_of_a_running_job_is_refused_with_a_message(client, staff_user):
    job = _job(status=JobStatus.RUNNING, heartbeat_at=timezone.now())
    client.force_login(staff_user)
    response = client.post(reverse("partners:job_retry", args=[job.pk]), follow=True)
    assert str(services.ERR_RETRY_STATE) in response.content.decode()
    assert FineTuneJob.objects.count() == 1


def test_model_versions_can_be_activated_and_deactivated(client, staff_user):
    version = ModelVersion.objects.create(name="v1", kind="scorer", backend="hf", config={"base_model": "/b"})
    client.force_login(staff_user)
    assert "v1" in client.get(reverse("partners:models")).content.decode()
    client.post(reverse("partners:model_toggle", args=[version.pk]))
    version.refresh_from_db()
    assert version.is_active
    response = client.post(reverse("partners:model_toggle", args=[version.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("partners:models")
    version.refresh_from_db()
    assert not version.is_active


def _card_post(**overrides) -> dict:
    data = {
        "name": "新しいカード",
        "gender": "女性",
        "age": "27",
        "education": "専門学校卒業",
        "occupation": "保育士",
        "marital_status": "未婚",
        "family": "実家で母と二人暮らし。",
        "openness": "高い",
        "conscientiousness": "普通",
        "extraversion": "低い",
        "agreeableness": "高い",
        "neuroticism": "高い",
        "resistance": "相談しても無駄だと思っている。",
        "chief_complaint": "職場の人間関係に疲れて、朝起きるのがつらい。",
    }
    data.update(overrides)
    return data


def test_role_card_form_creates_edits_and_deactivates(client, staff_user):
    client.force_login(staff_user)
    response = client.post(reverse("partners:role_card_create"), _card_post())
    assert response.status_code == 302
    card = RoleCard.objects.get()
    assert card.big_five["extraversion"] == "低い" and card.age == 27 and card.created_by == staff_user
    edit = client.get(reverse("partners:role_card_edit", args=[card.pk]))
    assert edit.context["form"].initial["neuroticism"] == "高い"
    client.post(reverse("partners:role_card_edit", args=[card.pk]), _card_post(age="28"))
    client.post(reverse("partners:role_card_toggle", args=[card.pk]))
    card.refresh_from_db()
    assert card.age == 28 and not card.is_active


@pytest.mark.parametrize(
    "overrides",
    [{"chief_complaint": "あ" * 401}, {"age": "7"}, {"openness": ""}, {"family": "a\x00b"}, {"name": ""}],
)
def test_role_card_form_rejects_bad_input_and_saves_nothing(client, staff_user, overrides):
    client.force_login(staff_user)
    response = client.post(reverse("partners:role_card_create"), _card_post(**overrides))
    assert response.status_code == 200 and response.context["form"].errors
    assert RoleCard.objects.count() == 0


def test_role_card_library_loads_the_examples(client, staff_user):
    client.force_login(staff_user)
    client.post(reverse("partners:role_cards_load_examples"))
    html = client.get(reverse("partners:role_cards")).content.decode()
    assert RoleCard.objects.count() == 6  # three Japanese, three English
    assert "残業続きの会社員" in html and "Office worker on constant overtime" in html


def test_jobs_list_counts_jobs_per_status_under_translated_labels(client, staff_user):
    _job(status=JobStatus.SUCCEEDED, step=10, total_steps=10)
    _job(status=JobStatus.SUCCEEDED, step=10, total_steps=10)
    _job(status=JobStatus.QUEUED)
    client.force_login(staff_user)
    client.cookies["django_language"] = "ja"
    response = client.get(reverse("partners:jobs"), HTTP_ACCEPT_LANGUAGE="ja")
    counts = {status: n for status, _, n in response.context["counts"]}
    assert counts == {"queued": 1, "running": 0, "succeeded": 2, "failed": 0, "cancelled": 0}
    html = response.content.decode()
    with translation.override("ja"):
        assert f"{JobStatus.SUCCEEDED.label}: 2" in html and "succeeded: 2" not in html


def test_models_page_shows_a_settings_endpoint_only_when_it_is_complete(client, staff_user, settings):
    incomplete = {"backend": "openai", "base_url": "", "model": "", "api_key_env": "KOKORO_OPENAI_API_KEY"}
    complete = {"backend": "openai", "base_url": "http://127.0.0.1:8011/v1", "model": "kokoro-8b"}
    settings.KOKORO_GENERATION_BACKENDS = {"counselor": complete, "client": incomplete, "scorer": incomplete}
    client.force_login(staff_user)
    response = client.get(reverse("partners:models"))
    assert [cfg for _, cfg in response.context["configured"]] == [complete, None, None]  # counselor, client, scorer
    html = response.content.decode()
    assert "kokoro-8b http://127.0.0.1:8011/v1" in html and html.count("未設定") == 2


def test_role_card_form_writes_an_english_card(client, staff_user):
    client.force_login(staff_user)
    post = _card_post(name="A new card", language="en", occupation="Nursery teacher")
    assert client.post(reverse("partners:role_card_create"), post).status_code == 302
    card = RoleCard.objects.get()
    assert card.language == "en" and card.to_core().language == "en"
    edit = client.get(reverse("partners:role_card_edit", args=[card.pk]))
    assert edit.context["form"].initial["language"] == "en"
    page = client.get(reverse("partners:role_cards")).content.decode()
    assert 'lang="en"' in page
