"""Reads of the set-up: what is there, what is missing, what is being prepared and about when it is ready."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from feedback.models import Feedback
from models_ml.finetuning.models import Backend, ModelVersion, RetrievalIndexJob
from models_ml.jobs.models import ACTIVE_STATUSES
from models_ml.scoring.models import ScorerModel, ScorerTrainingJob
from roleplay.models import SessionSource

from .models import DatasetImportJob, SetupRun
from .services import dataset_available, dataset_dir


@dataclass(frozen=True)
class Piece:
    key: str  # dataset | scorer | counselor_index | client_index
    ready: bool
    preparing: bool


def latest_setup() -> SetupRun | None:
    return (
        SetupRun.objects.select_related("import_job", "scorer_job", "counselor_index_job", "client_index_job")
        .order_by("-pk")
        .first()
    )


def active_setup() -> SetupRun | None:
    run = latest_setup()
    return run if run is not None and run.is_active else None


def setup_eta(run: SetupRun) -> timedelta | None:
    """A rough time left: the elapsed time scaled by the progress so far (None before 5 %)."""
    if not run.is_active or run.started_at is None:
        return None
    percent = run.percent
    if percent < 5:
        return None
    elapsed = (timezone.now() - run.started_at).total_seconds()
    return timedelta(seconds=round(elapsed * (100 - percent) / percent))


def pieces() -> list[Piece]:
    """The four things the ML pages need, whether each is there and whether a job prepares it."""
    imported = Feedback.objects.filter(session__source=SessionSource.IMPORTED).exists()
    scorer = ScorerModel.objects.filter(is_active=True).exists()
    index = {
        role: ModelVersion.objects.filter(kind=role, backend=Backend.RETRIEVAL, is_active=True).exists()
        for role in ("counselor", "client")
    }
    indexing = set(RetrievalIndexJob.objects.filter(status__in=ACTIVE_STATUSES).values_list("role", flat=True))
    return [
        Piece("dataset", imported, DatasetImportJob.objects.filter(status__in=ACTIVE_STATUSES).exists()),
        Piece("scorer", scorer, ScorerTrainingJob.objects.filter(status__in=ACTIVE_STATUSES).exists()),
        Piece("counselor_index", index["counselor"], "counselor" in indexing),
        Piece("client_index", index["client"], "client" in indexing),
    ]


def setup_overview() -> dict:
    run = latest_setup()
    eta = setup_eta(run) if run else None
    return {
        "run": run,
        "eta_minutes": max(1, round(eta.total_seconds() / 60)) if eta else None,
        "pieces": pieces(),
        "folder": str(dataset_dir()),
        "folder_available": dataset_available(),
    }


def recent_imports(limit: int = 5) -> list[DatasetImportJob]:
    return list(DatasetImportJob.objects.order_by("-pk")[:limit])
