"""Live job progress: a change of a job row is pushed to the pages that show it (``ws/jobs/``).

The channel layer only *notifies*: after the transaction that changed a job commits, ``job_notify`` sends
``{"type": "job.changed", "key": ..., "id": ...}`` to the job's group; every subscribed socket then reads the
row again (``job_snapshot``) and sends the page a ``job`` frame with its current state. The database row is
the truth: a lost notification costs only freshness (the pages still poll slowly, ``KOKORO_JOBS_POLL_S``),
and a late one can never show an older state than the row. Frame format: docs/jobs.md and docs/protocol.md.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .models import Job

logger = logging.getLogger(__name__)

# At most this many of the last log lines travel in a frame (the pages show a tail, not the whole log).
LOG_LINES = 20
# After a failed push the next ones are skipped this long: a job must not wait on an unreachable Redis at every
# progress write (the pages' slow polling shows the rows meanwhile).
PAUSE_AFTER_FAILURE_S = 30.0
_paused_until = 0.0


def job_group(key: str, job_id: int) -> str:
    """The channel-layer group of one job (``key`` is its registered job type)."""
    return f"job_{key}_{int(job_id)}"


def job_ref(job: Job) -> str:
    """``"<job type key>:<id>"``: how a page names a job when it subscribes ("" for an unregistered type)."""
    key = _key_of(type(job))
    return f"{key}:{job.pk}" if key and job.pk else ""


def _key_of(model: type[Job]) -> str:
    """The registered key (as ``control.job_type_key``), "" for an unregistered model: a push never raises."""
    from .services import job_type_of

    job_type = job_type_of(model)
    return job_type.key if job_type is not None else ""


def _model_of(key: str) -> type[Job] | None:
    from .services import job_types

    job_type = job_types().get(key)
    return job_type.model if job_type is not None else None


def _send(key: str, job_id: int) -> None:
    global _paused_until
    layer = get_channel_layer()
    if layer is None or time.monotonic() < _paused_until:
        return
    try:
        async_to_sync(layer.group_send)(job_group(key, job_id), {"type": "job.changed", "key": key, "id": job_id})
    except Exception as exc:  # the layer only notifies: the pages' slow polling still shows the row
        _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE_S
        logger.warning(
            "job %s:%s: change not pushed, pushes paused for %ss (%s)", key, job_id, PAUSE_AFTER_FAILURE_S, exc
        )


def job_notify(*, model: type[Job], job_id: int) -> None:
    """Tell the pages subscribed to this job that its row changed, once the current transaction commits
    (at once outside a transaction). Never raises."""
    key = _key_of(model)
    if not key or job_id is None:
        return
    transaction.on_commit(lambda: _send(key, int(job_id)))


def parse_ref(ref: Any) -> tuple[str, int] | None:
    """``"finetune:12"`` → ``("finetune", 12)`` for a registered job type; None for anything else."""
    if not isinstance(ref, str) or len(ref) > 80 or ref.count(":") != 1:
        return None
    key, _, raw_id = ref.partition(":")
    if _model_of(key) is None or not raw_id.isascii() or not raw_id.isdigit() or len(raw_id) > 18:
        return None
    job_id = int(raw_id)
    return (key, job_id) if job_id > 0 else None


def job_snapshot(*, key: str, job_id: int) -> dict[str, Any] | None:
    """The ``job`` frame of one job as stored now; None when the job (or its type) does not exist."""
    model = _model_of(key)
    job = model.objects.filter(pk=job_id).first() if model is not None else None
    if job is None:
        return None
    frame: dict[str, Any] = {
        "type": "job",
        "job": f"{key}:{job.pk}",
        "status": job.status,
        "terminal": job.is_terminal,
        "percent": job.percent,
        "message": job.message,
        "error": job.error,
        "error_code": job.error_code,
        "step": None,
        "total": None,
        "log_tail": None,
        "heartbeat_at": job.heartbeat_at.isoformat() if job.heartbeat_at else None,
    }
    live = job.live_fields()
    if isinstance(live.get("log_tail"), list):
        live["log_tail"] = [str(line) for line in live["log_tail"][-LOG_LINES:]]
    frame.update(live)
    return frame


__all__ = ["LOG_LINES", "job_group", "job_notify", "job_ref", "job_snapshot", "parse_ref"]
