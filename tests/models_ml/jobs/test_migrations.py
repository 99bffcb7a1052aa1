"""Upgrade from the schema of before the job framework: the data migrations map old status values and
fill the new fields; a fresh migrate gives the same schema (``makemigrations --check`` in test_lint-like form)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [
    ("partners", "0001_initial"),
    ("arena", "0001_initial"),
    ("coaching", "0001_initial"),
    ("models_ml", "0001_initial"),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_an_upgrade_from_the_old_schema_keeps_and_maps_the_existing_jobs():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = _migrate(BEFORE)
    try:
        User = old.get_model("auth", "User")
        Session = old.get_model("roleplay", "Session")
        user = User.objects.create(username="old-user")
        now = timezone.now()

        def session():
            return Session.objects.create(counselor=user, client=user, starts_at=now, status="ended")

        Run = old.get_model("coaching", "SuggestionRun")
        pending = Run.objects.create(session=session(), status="pending", total=4)
        done = Run.objects.create(session=session(), status="done", done=4, total=4)
        unavailable = Run.objects.create(session=session(), status="unavailable")
        Sim = old.get_model("arena", "SimulationJob")
        sim = Sim.objects.create(status="running", done=1, failed=1, total=4, started_at=now)
        Item = old.get_model("arena", "SimulatedSession")
        item_pending = Item.objects.create(job=sim, index=0, status="pending")
        item_done = Item.objects.create(job=sim, index=1, status="done")
        Tune = old.get_model("partners", "FineTuneJob")
        tune = Tune.objects.create(
            task="response",
            data_subset="full",
            base_model="m",
            status="running",
            step=30,
            total_steps=120,
            started_at=now,
        )

        new = _migrate(latest)
        Run = new.get_model("coaching", "SuggestionRun")
        assert Run.objects.get(pk=pending.pk).status == "queued"
        assert (Run.objects.get(pk=done.pk).status, Run.objects.get(pk=done.pk).progress) == ("succeeded", 100)
        gone = Run.objects.get(pk=unavailable.pk)
        assert (gone.status, gone.error_code) == ("failed", "unavailable")
        Sim = new.get_model("arena", "SimulationJob")
        assert (Sim.objects.get(pk=sim.pk).progress, Sim.objects.get(pk=sim.pk).attempts) == (50, 1)
        Item = new.get_model("arena", "SimulatedSession")
        assert Item.objects.get(pk=item_pending.pk).status == "queued"
        assert Item.objects.get(pk=item_done.pk).status == "succeeded"
        Tune = new.get_model("partners", "FineTuneJob")
        assert Tune.objects.get(pk=tune.pk).progress == 25

        # ... and back down again (the data migrations are reversible).
        old = _migrate(BEFORE)
        Run = old.get_model("coaching", "SuggestionRun")
        assert sorted(Run.objects.values_list("status", flat=True)) == ["done", "pending", "unavailable"]
    finally:
        _migrate(latest)


@pytest.mark.django_db
def test_the_models_and_the_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_the_log_key_migration_maps_every_registered_job_type():
    from importlib import import_module

    from models_ml.jobs.services import job_types

    keys = import_module("models_ml.jobs.migrations.0002_log_job_type_registered_key").KEYS
    assert {t.model._meta.label_lower: k for k, t in job_types().items()} == keys


@pytest.mark.django_db(transaction=True)
def test_old_log_rows_keep_their_job_after_the_key_migration():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    old = _migrate([("jobs", "0001_initial")])
    try:
        Entry = old.get_model("jobs", "JobLogEntry")
        Entry.objects.create(job_type="partners.finetunejob", job_id=7, line="old line")
        Entry.objects.create(job_type="bootstrap.setuprun", job_id=8, line="set-up")
        new = _migrate(latest)
        rows = set(new.get_model("jobs", "JobLogEntry").objects.values_list("job_type", "job_id", "line"))
        assert rows == {("finetune", 7, "old line"), ("setup_run", 8, "set-up")}
    finally:
        _migrate(latest)
