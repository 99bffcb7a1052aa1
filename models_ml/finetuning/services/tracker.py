"""Progress, heartbeat and cancellation of one running fine-tuning job (a transformers TrainerCallback)."""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from django.utils import timezone

from models_ml.jobs.services import (
    job_progress,
)

from ..models import (
    LOG_TAIL_LINES,
    FineTuneJob,
    JobStatus,
)
from .common import (
    MAX_HISTORY_POINTS,
    _line,
    cancel_poll_s,
    heartbeat_interval_s,
    progress_write_s,
)

logger = logging.getLogger(__name__)


class JobTracker:
    """Progress, heartbeat and cancellation for one running job. Database writes are throttled: progress at
    most every ``progress_write_s`` (and at every validation), heartbeats every ``heartbeat_interval_s``,
    cancellation flag reads every ``cancel_poll_s``. Only a job still ``running`` is ever updated."""

    def __init__(self, job: FineTuneJob) -> None:
        self.job_id = job.pk
        self.log: deque[str] = deque(job.log_tail, maxlen=LOG_TAIL_LINES)
        self.train_points: list[dict[str, Any]] = []
        self.eval_points: list[dict[str, Any]] = []
        self.step = 0
        self.total = 0
        self.epoch = 0.0
        self.eta: int | None = None
        self.phase = job.phase
        self.stop = False
        self._train_started: float | None = None
        self._last_write = 0.0
        self._last_beat = time.monotonic()
        self._last_poll = 0.0

    def note(self, text: str, *, phase: str | None = None) -> None:
        self.log.append(_line(text))
        if phase:
            self.phase = phase
        self.flush()

    def progress(self, step: int, total: int, logs: dict[str, Any]) -> None:
        now = time.monotonic()
        if self._train_started is None:
            self._train_started = now
            self.phase = "training"
            self.log.append(_line(f"Training: {total} steps."))
        self.step, self.total = step, total
        self.epoch = float(logs.get("epoch") or self.epoch)
        if step > 0 and total > step:
            self.eta = round((now - self._train_started) / step * (total - step))
        elif step >= total > 0:
            self.eta = 0
        force = step == 0 or step >= total
        point = {"step": step, "epoch": round(self.epoch, 3)}
        if "loss" in logs:
            self.train_points.append({**point, "loss": round(float(logs["loss"]), 5)})
            if len(self.train_points) > MAX_HISTORY_POINTS:
                self.train_points = self.train_points[::2]
            self.log.append(_line(f"step {step}/{total} loss {float(logs['loss']):.4f}" + _lr(logs)))
        if "eval_loss" in logs:
            self.eval_points.append({**point, "eval_loss": round(float(logs["eval_loss"]), 5)})
            self.log.append(_line(f"step {step}/{total} validation loss {float(logs['eval_loss']):.4f}"))
            force = True
        if "best_eval_loss" in logs:
            at = logs.get("best_step") or step
            self.log.append(
                _line(f"Best checkpoint (step {at}) reloaded: validation loss {logs['best_eval_loss']:.4f}")
            )
            force = True
        if force or now - self._last_write >= progress_write_s():
            self.flush()

    def history(self) -> list[dict[str, Any]]:
        return sorted(self.train_points + self.eval_points, key=lambda p: (p["step"], "eval_loss" in p))

    def flush(self) -> None:
        now = time.monotonic()
        self._last_write = self._last_beat = now
        job_progress(
            model=FineTuneJob,
            job_id=self.job_id,
            progress=round(100 * self.step / self.total) if self.total else 0,
            message=self.phase,
            step=self.step,
            total_steps=self.total,
            epoch=self.epoch,
            eta_seconds=self.eta,
            phase=self.phase,
            loss_history=self.history(),
            log_tail=list(self.log),
            updated_at=timezone.now(),
        )

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._last_beat >= heartbeat_interval_s():
            self._last_beat = now
            job_progress(model=FineTuneJob, job_id=self.job_id)

    def should_stop(self) -> bool:
        self.beat()
        now = time.monotonic()
        if not self.stop and now - self._last_poll >= cancel_poll_s():
            self._last_poll = now
            row = FineTuneJob.objects.filter(pk=self.job_id).values_list("status", "cancel_requested").first()
            self.stop = row is None or row[1] or row[0] != JobStatus.RUNNING
        return self.stop

    def callback(self):
        """A transformers TrainerCallback that keeps the heartbeat going through steps and validation."""
        from transformers import TrainerCallback

        tracker = self

        class Heartbeat(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                tracker.beat()

            def on_prediction_step(self, args, state, control, **kwargs):
                tracker.beat()

            def on_evaluate(self, args, state, control, **kwargs):
                tracker.beat()

            def on_save(self, args, state, control, **kwargs):
                tracker.beat()

        return Heartbeat()


def _lr(logs: dict[str, Any]) -> str:
    lr = logs.get("learning_rate")
    return f" lr {float(lr):.2e}" if lr is not None else ""


__all__ = [
    "JobTracker",
]
