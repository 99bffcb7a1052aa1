"""Log rows name their job type by its registered key (``finetune``), like URLs and live pushes, instead
of the model's ``app_label.modelname`` (``partners.finetunejob``): one key scheme for a job type."""

from django.db import migrations

# app_label.modelname → registered key, as registered by the apps' ready() when this migration was written.
KEYS = {
    "models_ml.scorertrainingjob": "scorer_training",
    "partners.finetunejob": "finetune",
    "partners.retrievalindexjob": "retrieval_index",
    "arena.simulationjob": "arena_simulation",
    "arena.judgejob": "arena_judge",
    "arena.evaljob": "arena_eval",
    "arena.labeljob": "arena_label",
    "coaching.suggestionrun": "coaching_suggestions",
    "bootstrap.datasetimportjob": "dataset_import",
    "bootstrap.setuprun": "setup_run",
}


def forwards(apps, schema_editor):
    entries = apps.get_model("jobs", "JobLogEntry").objects
    for label, key in KEYS.items():
        entries.filter(job_type=label).update(job_type=key)


def backwards(apps, schema_editor):
    entries = apps.get_model("jobs", "JobLogEntry").objects
    for label, key in KEYS.items():
        entries.filter(job_type=key).update(job_type=label)


class Migration(migrations.Migration):
    dependencies = [("jobs", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
