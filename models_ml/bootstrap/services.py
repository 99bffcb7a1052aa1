"""Dataset imports from the site and the first-run set-up, as jobs of the one framework.

The set-up (``setup_start``) runs once per dataset folder: import it, train and activate the scorer, build the
counselor and client retrieval indexes. Each step is a job of its own type (its own card, log and cancel);
one task (``tasks.run_setup``) runs them in order. ``bootstrap_on_start`` (called by the web process when it
starts, ``kokoro_site/asgi.py``) starts it when the folder exists and it never ran, resumes an interrupted one,
and does nothing otherwise.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from feedback.dataset.errors import DatasetSourceError
from feedback.dataset.importer import ImportReport, dataset_import
from feedback.dataset.source import display_name, source_names
from kokoro_site.errors import ServiceError
from models_ml.finetuning.models import RetrievalIndexJob
from models_ml.finetuning.services import retrieval_index_job_create, retrieval_index_job_execute
from models_ml.jobs.control import job_cancel, job_log
from models_ml.jobs.models import ACTIVE_STATUSES, JobStatus
from models_ml.jobs.services import (
    job_claim,
    job_dispatch,
    job_fail,
    job_fail_unexpected,
    job_finish,
    job_progress,
)
from models_ml.scoring.models import ScorerTrainingJob
from models_ml.scoring.services import ABSOLUTE_MIN_SESSIONS, scorer_training_job_create, scorer_training_job_execute

from .models import REJECTED_KEPT, DatasetImportJob, SetupRun

logger = logging.getLogger(__name__)

IMPORT_CHUNK = 50  # files per transaction: short write locks, so the site keeps answering during an import
IMPORT_STALE_S = 15 * 60
SETUP_STALE_S = 6 * 60 * 60  # the steps report their own heartbeats; the run only between steps
ERR_UPLOAD_NOT_ZIP = _("Upload a .zip file of KokoroChat JSON files.")
ERR_NO_SOURCE = _("Give a folder on the server or upload a .zip file.")
ERR_INTERRUPTED = _("The server stopped while this job ran; it was started again.")
ERR_STEP_FAILED = _("A step of the set-up did not succeed: %(steps)s.")
CODE_INTERRUPTED = "interrupted"

# (field on SetupRun, job model, English name of the step for the log)
STEPS = (
    ("import_job", DatasetImportJob, "Import the published dataset"),
    ("scorer_job", ScorerTrainingJob, "Train and activate the auto-scorer"),
    ("counselor_index_job", RetrievalIndexJob, "Build the AI counselor's retrieval index"),
    ("client_index_job", RetrievalIndexJob, "Build the AI client's retrieval index"),
)


class ImportJobError(ServiceError):
    """An import refused before it is queued (no source, unreadable folder, not a zip)."""


def import_stale_after_s() -> float:
    return float(IMPORT_STALE_S)


def setup_stale_after_s() -> float:
    return float(SETUP_STALE_S)


def dataset_dir() -> Path:
    """The published KokoroChat folder (``KOKOROCHAT_DIR``), resolved."""
    return Path(settings.KOKOROCHAT_DIR).expanduser().resolve()


def dataset_available() -> bool:
    path = dataset_dir()
    return path.is_dir() and any(path.glob("*.json"))


# --- dataset import job -----------------------------------------------------------------------------------


def dataset_upload_store(*, upload: Any) -> Path:
    """Save an uploaded .zip under MEDIA_ROOT/imports/ (deleted once imported)."""
    if not str(getattr(upload, "name", "")).lower().endswith(".zip"):
        raise ImportJobError("not_zip", ERR_UPLOAD_NOT_ZIP)
    folder = Path(settings.MEDIA_ROOT) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.zip"
    with path.open("wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return path


@transaction.atomic
def dataset_import_job_create(
    *,
    source: Path | str,
    source_name: str = "",
    uploaded: bool = False,
    update: bool = False,
    created_by: Any = None,
    dispatch: bool = True,
) -> DatasetImportJob:
    """Queue the import of a folder or .zip; an unusable source is refused here (nothing is queued)."""
    from .tasks import import_dataset

    if not str(source).strip():
        raise ImportJobError("no_source", ERR_NO_SOURCE)
    path = Path(source).expanduser()
    try:
        _kind, names = source_names(path)
    except DatasetSourceError as exc:
        if uploaded:
            path.unlink(missing_ok=True)
        raise ImportJobError("source", exc.message) from None
    job = DatasetImportJob.objects.create(
        source=str(path),
        source_name=(source_name or display_name(str(path)))[:255],
        uploaded=uploaded,
        update=update,
        total=len(names),
        created_by=created_by,
    )
    if dispatch:
        job_dispatch(task=import_dataset, args=[job.pk], embedded_thread=settings.KOKORO_FINETUNE_EMBEDDED_THREAD)
    return job


class _Stopped(Exception):
    """The import job was cancelled (or reaped) while it ran."""


def dataset_import_job_execute(*, job_id: int, task_id: str = "", hostname: str = "") -> str:
    """Claim and run one import; counts, rejected files and the log are stored on the job."""
    job = job_claim(model=DatasetImportJob, job_id=job_id, task_id=task_id, hostname=hostname)
    if job is None:
        return "skipped"
    job_log(model=DatasetImportJob, job_id=job.pk, line=f"Importing {job.source_name}")

    def progress(done: int, total: int, report: ImportReport) -> None:
        fields = {
            "done": done,
            "total": total,
            "imported": report.imported,
            "unchanged": report.unchanged,
            "rejected_count": len(report.rejected),
        }
        line = f"{done}/{total} files: {report.imported} imported, {report.unchanged} unchanged"
        percent = round(100 * done / total) if total else 100
        if not job_progress(model=DatasetImportJob, job_id=job.pk, progress=min(percent, 99), message=line, **fields):
            raise _Stopped
        if done == total or done % (IMPORT_CHUNK * 20) == 0:
            job_log(model=DatasetImportJob, job_id=job.pk, line=line)

    try:
        report = dataset_import(path=Path(job.source), chunk_size=IMPORT_CHUNK, update=job.update, progress=progress)
    except _Stopped:
        return JobStatus.CANCELLED
    except DatasetSourceError as exc:
        job_log(model=DatasetImportJob, job_id=job.pk, line=str(exc.message))
        job_fail(model=DatasetImportJob, job_id=job.pk, reason=str(exc.message), code="source")
        return JobStatus.FAILED
    except Exception as exc:  # every failure ends in a stored, readable state
        logger.exception("dataset import job %s failed", job_id)
        job_fail_unexpected(model=DatasetImportJob, job_id=job.pk, exc=exc)
        return JobStatus.FAILED
    finally:
        if job.uploaded:
            Path(job.source).unlink(missing_ok=True)
    for name, reason in report.rejected[:REJECTED_KEPT]:
        job_log(model=DatasetImportJob, job_id=job.pk, line=f"Rejected {name}: {reason}")
    summary = (
        f"{report.files} files: {report.imported} imported, {report.unchanged} unchanged, "
        f"{len(report.rejected)} rejected"
    )
    job_log(model=DatasetImportJob, job_id=job.pk, line=summary)
    job_finish(
        model=DatasetImportJob,
        job_id=job.pk,
        message=summary,
        done=report.files,
        total=report.files,
        imported=report.imported,
        unchanged=report.unchanged,
        updated=report.updated,
        messages_count=report.messages,
        rejected_count=len(report.rejected),
        rejected=[list(r) for r in report.rejected[:REJECTED_KEPT]],
    )
    return JobStatus.SUCCEEDED


# --- first-run set-up --------------------------------------------------------------------------------------


def _new_step_job(field: str, *, source: str, created_by: Any):
    if field == "import_job":
        return dataset_import_job_create(source=source, created_by=created_by, dispatch=False)
    if field == "scorer_job":
        # The set-up trains on whatever labelled data there is (the published data: thousands of sessions).
        return scorer_training_job_create(min_sessions=ABSOLUTE_MIN_SESSIONS, created_by=created_by, dispatch=False)
    role = "counselor" if field == "counselor_index_job" else "client"
    return retrieval_index_job_create(role=role, created_by=created_by, dispatch=False)


def _nothing_to_do(last: SetupRun | None, *, retry: bool) -> bool:
    return last is not None and (
        last.status in (*ACTIVE_STATUSES, JobStatus.SUCCEEDED) or (last.status == JobStatus.CANCELLED and not retry)
    )


def setup_start(*, source: Path | str | None = None, created_by: Any = None, retry: bool = False) -> SetupRun | None:
    """Start the set-up of ``source`` (default: ``KOKOROCHAT_DIR``) unless it ran, runs or was cancelled
    already (idempotent; None then). ``retry``: a failed or cancelled set-up runs again, its succeeded steps
    kept. Every step's job is created now (queued), so the set-up page shows them all at once."""
    path = Path(source).expanduser().resolve() if source else dataset_dir()
    # A read first: the usual answer (it ran, or runs) takes no write lock and lists no folder.
    if _nothing_to_do(SetupRun.objects.filter(source=str(path)).order_by("-pk").first(), retry=retry):
        return None
    try:
        source_names(path)
    except DatasetSourceError as exc:
        raise ImportJobError("source", exc.message) from None
    return _setup_create(path=path, created_by=created_by, retry=retry)


@transaction.atomic
def _setup_create(*, path: Path, created_by: Any, retry: bool) -> SetupRun | None:
    from .tasks import run_setup

    last = SetupRun.objects.select_for_update().filter(source=str(path)).order_by("-pk").first()
    if _nothing_to_do(last, retry=retry):
        return None
    run = SetupRun(source=str(path), created_by=created_by)
    for field, _model, _name in STEPS:
        kept = getattr(last, field) if last is not None else None
        if kept is not None and kept.status == JobStatus.SUCCEEDED:
            setattr(run, field, kept)
        else:
            setattr(run, field, _new_step_job(field, source=str(path), created_by=created_by))
    run.save()
    if last is not None:
        _cancel_steps(last)  # steps of the old run that never ran are replaced by the new run's
        job_log(model=SetupRun, job_id=run.pk, line=f"Started again after set-up #{last.pk} ({last.status})")
    job_dispatch(task=run_setup, args=[run.pk], embedded_thread=settings.KOKORO_FINETUNE_EMBEDDED_THREAD)
    return run


def _execute_step(field: str, job_id: int) -> None:
    if field == "import_job":
        dataset_import_job_execute(job_id=job_id, hostname="setup")
    elif field == "scorer_job":
        scorer_training_job_execute(job_id=job_id, hostname="setup")
    else:
        retrieval_index_job_execute(job_id=job_id, hostname="setup")


def setup_execute(*, run_id: int, task_id: str = "", hostname: str = "") -> str:
    """Run the set-up's steps in order; a failed step does not stop the others (each is useful alone)."""
    run = job_claim(model=SetupRun, job_id=run_id, task_id=task_id, hostname=hostname)
    if run is None:
        return "skipped"
    failed = []
    try:
        for index, (field, model, name) in enumerate(STEPS):
            step = getattr(run, field)
            if step is None or step.status == JobStatus.SUCCEEDED:
                continue
            if not job_progress(model=SetupRun, job_id=run.pk, progress=round(100 * index / len(STEPS)), message=name):
                _cancel_steps(run)
                return JobStatus.CANCELLED
            job_log(model=SetupRun, job_id=run.pk, line=f"{name}: started")
            _execute_step(field, step.pk)
            step = model.objects.get(pk=step.pk)
            job_log(model=SetupRun, job_id=run.pk, line=f"{name}: {step.status} {step.error or step.message}".strip())
            if step.status != JobStatus.SUCCEEDED:
                failed.append(name)
    except Exception as exc:
        logger.exception("set-up %s failed", run_id)
        job_fail_unexpected(model=SetupRun, job_id=run.pk, exc=exc)
        return JobStatus.FAILED
    if failed:
        job_fail(model=SetupRun, job_id=run.pk, reason=str(ERR_STEP_FAILED % {"steps": "; ".join(failed)}))
        return JobStatus.FAILED
    job_finish(model=SetupRun, job_id=run.pk, message="Ready")
    job_log(model=SetupRun, job_id=run.pk, line="Set-up finished")
    return JobStatus.SUCCEEDED


def _cancel_steps(run: SetupRun, user: Any = None) -> None:
    for field, model, _name in STEPS:
        step = getattr(run, field)
        if step is not None and model.objects.filter(pk=step.pk, status__in=ACTIVE_STATUSES).exists():
            job_cancel(model=model, job_id=step.pk, user=user)


def setup_cancel(*, run: SetupRun, user: Any = None) -> SetupRun:
    """Cancel the set-up and its unfinished steps (the running one stops at its next progress write)."""
    run = job_cancel(model=SetupRun, job_id=run.pk, user=user)
    _cancel_steps(run, user)
    return run


def setup_recover_interrupted() -> int:
    """Embedded mode only (jobs are threads of the one web process): what a stopped server left running or
    queued is dead now. Such jobs fail with ``interrupted``; ``bootstrap_on_start`` then resumes the set-up."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return 0
    count = 0
    now = timezone.now()
    for model in (SetupRun, DatasetImportJob, ScorerTrainingJob, RetrievalIndexJob):
        stale = model.objects.filter(status=JobStatus.RUNNING)
        count += stale.update(
            status=JobStatus.FAILED, error=str(ERR_INTERRUPTED), error_code=CODE_INTERRUPTED, finished_at=now
        )
    queued_runs = SetupRun.objects.filter(status=JobStatus.QUEUED)  # their thread never started
    count += queued_runs.update(
        status=JobStatus.FAILED, error=str(ERR_INTERRUPTED), error_code=CODE_INTERRUPTED, finished_at=now
    )
    return count


def bootstrap_on_start() -> SetupRun | None:
    """When the web process starts: recover what a stopped server left, then start (or resume) the set-up of
    ``KOKOROCHAT_DIR`` if it exists and has not run. Never raises (a fresh database, a missing table)."""
    if not settings.KOKORO_BOOTSTRAP_ON_START:
        return None
    try:
        setup_recover_interrupted()
        last = SetupRun.objects.order_by("-pk").first()
        interrupted = last is not None and last.error_code == CODE_INTERRUPTED
        if not dataset_available():
            return None
        return setup_start(retry=interrupted)
    except (DatabaseError, ImportJobError) as exc:  # IntegrityError: another web process started it
        logger.warning("first-run set-up not started: %s", exc)
        return None


def bootstrap_on_server_start() -> SetupRun | None:
    """``bootstrap_on_start`` for ``kokoro_site/asgi.py``: uvicorn (``--workers N``) imports the application
    inside its running event loop, where Django refuses database queries (SynchronousOnlyOperation), so the
    check runs on a short-lived thread of its own, which closes its connection when done."""
    import threading

    from django.db import connections

    result: list[SetupRun | None] = [None]

    def run() -> None:
        try:
            result[0] = bootstrap_on_start()
        finally:
            connections.close_all()

    worker = threading.Thread(target=run, name="kokoro-bootstrap-check", daemon=True)
    worker.start()
    worker.join()
    return result[0]


__all__ = [
    "STEPS",
    "ImportJobError",
    "bootstrap_on_server_start",
    "bootstrap_on_start",
    "dataset_available",
    "dataset_dir",
    "dataset_import_job_create",
    "dataset_import_job_execute",
    "dataset_upload_store",
    "setup_cancel",
    "setup_execute",
    "setup_recover_interrupted",
    "setup_start",
]
