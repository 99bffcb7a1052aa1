"""``python manage.py finetune``: the command-line twin of the fine-tuning job pages."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from models_ml.finetuning import selectors, services
from models_ml.finetuning.models import DataSubset, FineTuneJob


class Command(BaseCommand):
    help = (
        "Create and queue a QLoRA fine-tuning job (same options as the web form), run it in this process "
        "(--wait, e.g. CPU smoke runs), list jobs (--list), or cancel one (--cancel ID)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--task", choices=["response", "score"], default="response")
        parser.add_argument("--base-model", help="local folder of the base model (config.json + tokenizer)")
        parser.add_argument("--subset", choices=DataSubset.values, help="full (response default) | low | high | all")
        parser.add_argument("--quality-filter", action="store_true")
        parser.add_argument("--include-synthetic", action="store_true")
        parser.add_argument("--target-role", choices=["counselor", "client"], default="counselor")
        parser.add_argument(
            "--hyperparameters", help="JSON object or @file.json overriding the paper defaults ({'training': {...}})"
        )
        parser.add_argument("--max-steps", type=int)
        parser.add_argument("--wait", action="store_true", help="run the job here, synchronously, and print progress")
        parser.add_argument("--list", action="store_true", help="list the jobs")
        parser.add_argument("--cancel", type=int, metavar="ID", help="cancel a queued or running job")
        parser.add_argument("--retry", type=int, metavar="ID", help="queue a failed or cancelled job again")
        parser.add_argument("--reap", action="store_true", help="mark running jobs without a heartbeat as failed")

    def handle(self, *args, **options) -> None:
        if options["list"]:
            return self._list()
        if options["reap"]:
            self.stdout.write(f"{services.finetune_jobs_reap_stale()} stale job(s) marked failed.")
            return
        if options["cancel"] is not None:
            job = self._job(options["cancel"])
            job = self._call(services.finetune_job_cancel, job=job)
            self.stdout.write(f"Job #{job.pk}: {job.status}{' (cancel requested)' if job.cancel_requested else ''}")
            return
        if options["retry"] is not None:
            job = self._call(
                services.finetune_job_retry, job=self._job(options["retry"]), max_steps=options["max_steps"]
            )
            self.stdout.write(self.style.SUCCESS(f"Queued job #{job.pk} (retry of #{options['retry']})."))
            return
        if not options["base_model"]:
            raise CommandError("--base-model is required to create a job.")
        hp = services.default_hyperparameters(options["task"])
        if options["hyperparameters"]:
            hp = _merge(hp, _load_json(options["hyperparameters"]))
        hp["target_role"] = options["target_role"]
        with transaction.atomic():
            job = self._call(
                services.finetune_job_create,
                task=options["task"],
                base_model=options["base_model"],
                data_subset=options["subset"],
                quality_filter=options["quality_filter"],
                include_synthetic=options["include_synthetic"],
                hyperparameters=hp,
                max_steps=options["max_steps"],
            )
            if not options["wait"]:
                services.finetune_job_start(job=job)
        if not options["wait"]:
            self.stdout.write(self.style.SUCCESS(f"Queued job #{job.pk} on the gpu queue."))
            return
        self.stdout.write(f"Running job #{job.pk} in this process…")
        status = services.finetune_job_run_inline(job=job)
        job.refresh_from_db()
        for line in job.log_tail[-10:]:
            self.stdout.write(f"  {line}")
        if status != "succeeded":
            raise CommandError(f"Job #{job.pk} {status}: {job.error}")
        self.stdout.write(self.style.SUCCESS(f"Job #{job.pk} succeeded: adapter in {job.adapter_path}"))
        self.stdout.write(json.dumps(job.metrics, ensure_ascii=False, default=str))

    def _list(self) -> None:
        for job in selectors.job_list()[:100]:
            self.stdout.write(
                f"#{job.pk:<5} {job.status:<10} {job.task:<9} {job.data_subset:<5} "
                f"{job.step}/{job.total_steps or '-':<6} {job.created_at:%Y-%m-%d %H:%M}  {job.error[:60]}"
            )

    @staticmethod
    def _job(job_id: int) -> FineTuneJob:
        try:
            return FineTuneJob.objects.get(pk=job_id)
        except FineTuneJob.DoesNotExist:
            raise CommandError(f"No job #{job_id}.") from None

    @staticmethod
    def _call(func, **kwargs):
        try:
            return func(**kwargs)
        except services.PartnersError as exc:
            raise CommandError(exc.message) from None


def _load_json(value: str) -> dict:
    try:
        text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
        data = json.loads(text)
    except OSError as exc:
        raise CommandError(f"--hyperparameters: {exc}") from None
    except json.JSONDecodeError as exc:
        raise CommandError(str(services.ERR_HP_BAD_JSON % {"detail": exc})) from None
    if not isinstance(data, dict):
        raise CommandError(str(services.ERR_HP_NOT_OBJECT))
    return data


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for key, value in override.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
