"""Staff-only pages: simulations, the human arena, LLM-judge jobs, leaderboard, evaluations, labelling."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kokoro_site.permissions import staff_required

from . import selectors, services
from .forms import ArenaStartForm, EvalForm, JudgeJobForm, LabelForm, SimulationForm
from .models import ArenaDialogue, EvalJob, JudgeJob, LabelJob

MSG_QUEUED = _("Job #%(id)s is queued.")
JOB_MODELS = {"judge": JudgeJob, "eval": EvalJob, "label": LabelJob}


def _pk(obj: Any) -> int | None:
    return obj.pk if obj is not None else None


@staff_required
def index(request: HttpRequest) -> HttpResponse:
    return redirect("arena:leaderboard")


# --- simulations -------------------------------------------------------------------------------------


@staff_required
def simulations(request: HttpRequest) -> HttpResponse:
    services.arena_jobs_reap_stale()
    form = SimulationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            job = services.simulation_job_create(
                role_card_ids=[c.pk for c in d["role_cards"]],
                sessions_per_card=d["sessions_per_card"],
                max_turns=d["max_turns"],
                client_version_id=_pk(d["client_version"]),
                counselor_version_id=_pk(d["counselor_version"]),
                created_by=request.user,
                language=d["language"] or "ja",
            )
        except services.ArenaError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, MSG_QUEUED % {"id": job.pk})
            return redirect("arena:simulation_detail", job_id=job.pk)
    return render(
        request,
        "arena/simulations.html",
        {"form": form, "jobs": selectors.simulation_jobs()[:100], "tab": "simulations"},
    )


def _simulation_context(job_id: int) -> dict[str, Any]:
    services.arena_jobs_reap_stale()
    job = get_object_or_404(selectors.simulation_jobs(), pk=job_id)
    return {"job": job, "items": selectors.simulation_items(job), "tab": "simulations"}


@staff_required
def simulation_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    return render(request, "arena/simulation_detail.html", _simulation_context(job_id))


@staff_required
def simulation_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    return render(request, "arena/_simulation_progress.html", _simulation_context(job_id))


# --- human arena -------------------------------------------------------------------------------------


@staff_required
def arena_start(request: HttpRequest) -> HttpResponse:
    # Two different counselor models are needed: otherwise the page says why and the button is disabled.
    choices = services.arena_counselor_choices()
    form = ArenaStartForm(request.POST or None, initial=choices["initial"])
    if request.method == "POST" and choices["ready"] and form.is_valid():
        d = form.cleaned_data
        try:
            dialogue = services.arena_dialogue_create(
                role_card_id=d["role_card"].pk,
                model_a_id=_pk(d["model_a"]),
                model_b_id=_pk(d["model_b"]),
                client_version_id=_pk(d["client_version"]),
                created_by=request.user,
            )
        except services.ArenaError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("arena:arena_dialogue", dialogue_id=dialogue.pk)
    recent = ArenaDialogue.objects.select_related("role_card").filter(created_by=request.user)[:20]
    context = {"form": form, "recent": recent, "tab": "arena", "ready": choices["ready"], "reason": choices["reason"]}
    return render(request, "arena/arena_start.html", context)


def _candidates(dialogue: ArenaDialogue) -> list[dict[str, str]]:
    """The pending replies in the order shown, WITHOUT telling which model wrote which."""
    pending = dialogue.pending
    if not pending or services.is_generating(dialogue):
        return []
    return [{"position": str(i), "text": pending[side]} for i, side in enumerate(pending["order"], start=1)]


def _arena_context(dialogue: ArenaDialogue, error: str = "") -> dict[str, Any]:
    return {
        "dialogue": dialogue,
        "candidates": _candidates(dialogue),
        "token": dialogue.pending.get("token", ""),
        "error": error,
        "judged": dialogue.battles.count(),
        "generating": services.is_generating(dialogue) and not dialogue.finished,
        "tab": "arena",
    }


@staff_required
def arena_dialogue(request: HttpRequest, dialogue_id: int) -> HttpResponse:
    dialogue = get_object_or_404(ArenaDialogue.objects.select_related("role_card"), pk=dialogue_id)
    return render(request, "arena/arena_dialogue.html", _arena_context(dialogue))


@staff_required
def arena_board(request: HttpRequest, dialogue_id: int) -> HttpResponse:
    """The board alone: polled by htmx while the next replies are being generated."""
    dialogue = get_object_or_404(ArenaDialogue.objects.select_related("role_card"), pk=dialogue_id)
    return render(request, "arena/_arena_board.html", _arena_context(dialogue))


@staff_required
@require_POST
def arena_judge(request: HttpRequest, dialogue_id: int) -> HttpResponse:
    dialogue = get_object_or_404(ArenaDialogue, pk=dialogue_id)
    error = ""
    try:
        services.arena_dialogue_judge(
            dialogue=dialogue,
            position=request.POST.get("position", ""),
            token=request.POST.get("token", ""),
            user=request.user,
        )
    except services.ArenaError as exc:
        error = str(exc.message)
    dialogue.refresh_from_db()
    if request.htmx:
        return render(request, "arena/_arena_board.html", _arena_context(dialogue, error))
    if error:
        messages.error(request, error)
    return redirect("arena:arena_dialogue", dialogue_id=dialogue.pk)


# --- LLM judge, leaderboard --------------------------------------------------------------------------


@staff_required
def judge_jobs(request: HttpRequest) -> HttpResponse:
    form = JudgeJobForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            job = services.judge_job_create(
                mode=d["mode"],
                judge_version_id=_pk(d["judge_version"]),
                model_a_id=_pk(d["model_a"]),
                model_b_id=_pk(d["model_b"]),
                n_battles=d["n_battles"],
                both_orders=d["both_orders"],
                created_by=request.user,
            )
        except services.ArenaError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, MSG_QUEUED % {"id": job.pk})
            return redirect("arena:job_detail", kind="judge", job_id=job.pk)
    jobs = JudgeJob.objects.select_related("judge_version", "model_a", "model_b")[:50]
    return render(request, "arena/judge_jobs.html", {"form": form, "jobs": jobs, "tab": "judge"})


@staff_required
def leaderboard(request: HttpRequest) -> HttpResponse:
    boards = selectors.leaderboards()
    agreement = boards["agreement"]
    agreement_rows = [
        {"judge": j, "cells": list(zip(agreement["rates"][i], agreement["counts"][i], strict=True))}
        for i, j in enumerate(agreement["judges"])
    ]
    sections = []
    for kind in ("human", "llm"):
        board = boards[kind]
        matrix = board["matrix"]
        board["matrix_rows"] = [{"model": m, "counts": matrix["counts"][i]} for i, m in enumerate(matrix["models"])]
        sections.append(board)
    chart = {
        kind: {
            "models": [r["model"] for r in boards[kind]["table"]],
            "rating": [r["rating"] for r in boards[kind]["table"]],
            "low": [r["ci_low"] for r in boards[kind]["table"]],
            "high": [r["ci_high"] for r in boards[kind]["table"]],
        }
        for kind in ("human", "llm")
    }
    return render(
        request,
        "arena/leaderboard.html",
        {
            "boards": boards,
            "sections": sections,
            "agreement_rows": agreement_rows,
            "chart": chart,
            "tab": "leaderboard",
        },
    )


# --- evaluation, labelling ---------------------------------------------------------------------------


@staff_required
def evaluations(request: HttpRequest) -> HttpResponse:
    form = EvalForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            job = services.eval_job_create(
                backend_name=d["backend_name"],
                version_id=_pk(d["model_version"]),
                limit=d["limit"],
                created_by=request.user,
            )
        except services.ArenaError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, MSG_QUEUED % {"id": job.pk})
            return redirect("arena:job_detail", kind="eval", job_id=job.pk)
    jobs = EvalJob.objects.select_related("model_version")[:50]
    return render(
        request,
        "arena/evaluations.html",
        {"form": form, "jobs": jobs, "test_dialogues": selectors.test_sessions().count(), "tab": "eval"},
    )


@staff_required
def labels(request: HttpRequest) -> HttpResponse:
    form = LabelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            job = services.label_job_create(
                kind=d["kind"],
                source=d["source"],
                overwrite=d["overwrite"],
                limit=d["limit"],
                judge_version_id=_pk(d["judge_version"]),
                created_by=request.user,
            )
        except services.ArenaError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, MSG_QUEUED % {"id": job.pk})
            return redirect("arena:job_detail", kind="label", job_id=job.pk)
    jobs = LabelJob.objects.all()[:50]
    return render(
        request,
        "arena/labels.html",
        {"form": form, "jobs": jobs, "wai": selectors.wai_summary(), "tab": "labels"},
    )


def _job(kind: str, job_id: int) -> Any:
    services.arena_jobs_reap_stale()
    model = JOB_MODELS.get(kind)
    if model is None:
        raise Http404
    return get_object_or_404(model, pk=job_id)


@staff_required
def job_detail(request: HttpRequest, kind: str, job_id: int) -> HttpResponse:
    job = _job(kind, job_id)
    return render(
        request,
        "arena/job_detail.html",
        {"job": job, "kind": kind, "tab": {"judge": "judge", "eval": "eval"}.get(kind, "labels")},
    )


@staff_required
def job_progress(request: HttpRequest, kind: str, job_id: int) -> HttpResponse:
    return render(request, "arena/_job_progress.html", {"job": _job(kind, job_id), "kind": kind})
