from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kokoro_site.permissions import staff_required
from roleplay.models import Session, SessionSource

from .models import Prediction, PredictionStatus, ScorerModel, ScorerTrainingJob
from .presenters import panel_context
from .selectors import active_scorer_model, prediction_errors, prediction_list
from .services import (
    ABSOLUTE_MIN_SESSIONS,
    DEFAULT_MIN_SESSIONS,
    TrainingError,
    scorer_model_activate,
    scorer_training_job_create,
)


class ScorerTrainingForm(forms.Form):
    min_sessions = forms.IntegerField(
        label=_("Minimum labelled sessions"), min_value=ABSOLUTE_MIN_SESSIONS, initial=DEFAULT_MIN_SESSIONS
    )


@login_required
def prediction_panel(request, session_id: int):
    """The panel's body (re-fetched by prediction_panel.js when a prediction/feedback frame arrives)."""
    session = get_object_or_404(Session.objects.select_related("counselor", "client"), pk=session_id)
    if not request.user.is_staff and session.role_of(request.user) is None:
        raise Http404  # not a participant: as if the session did not exist (no enumeration)
    if not (request.user.is_staff or request.user.pk == session.counselor_id):
        raise PermissionDenied
    return render(request, "models_ml/_prediction_body.html", {"pc": panel_context(session)})


def _choice(request, name: str, allowed) -> str:
    """A filter value from the query string, or "" when it is not one of the choices."""
    value = request.GET.get(name, "")
    return value if value in allowed else ""


@staff_required
def predictions(request):
    filters = {
        "status": _choice(request, "status", PredictionStatus.values),
        "source": _choice(request, "source", SessionSource.values),
        "has_feedback": _choice(request, "has_feedback", ("yes", "no")),
        "q": request.GET.get("q", "").strip(),
    }
    qs = prediction_list(**filters)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    rows = []
    for p in page.object_list:
        fb = getattr(p.session, "feedback", None)
        rows.append({"p": p, "feedback": fb, "diff": (p.total - fb.total) if fb and p.total is not None else None})
    return render(
        request,
        "models_ml/predictions.html",
        {
            "page": page,
            "rows": rows,
            "filters": filters,
            "errors": prediction_errors(qs.filter(status=PredictionStatus.DONE, session__feedback__isnull=False)),
            "statuses": PredictionStatus.choices,
            "sources": SessionSource.choices,
            "scorer": active_scorer_model(backend="cpu"),
        },
    )


# --- scorer versions: train and activate from the site ---------------------------------------------------

MSG_TRAINING_QUEUED = _("Scorer training #%(id)s is queued; its progress is shown below.")
MSG_SCORER_ACTIVE = _("“%(version)s” is now the active scorer; sessions waiting for a prediction are being scored.")


@staff_required
def scorers(request):
    """Scorer versions with their validation and evaluation figures, activation, training jobs."""
    from models_ml.jobs.views import job_card_context

    jobs = ScorerTrainingJob.objects.select_related("scorer_model")[:5]
    return render(
        request,
        "models_ml/scorers.html",
        {
            "scorer": active_scorer_model(backend="cpu"),
            "versions": ScorerModel.objects.all()[:30],
            "cards": [job_card_context(j, label=str(_("Scorer training #%(id)s") % {"id": j.pk})) for j in jobs],
            "form": ScorerTrainingForm(),
            "waiting": Prediction.objects.filter(status=PredictionStatus.WAITING).count(),
        },
    )


@staff_required
@require_POST
def scorer_train(request):
    form = ScorerTrainingForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("models_ml:scorers")
    try:
        job = scorer_training_job_create(min_sessions=form.cleaned_data["min_sessions"], created_by=request.user)
    except TrainingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, MSG_TRAINING_QUEUED % {"id": job.pk})
    return redirect("models_ml:scorers")


@staff_required
@require_POST
def scorer_activate(request, scorer_id: int):
    row = get_object_or_404(ScorerModel, pk=scorer_id)
    scorer_model_activate(scorer_model=row)
    messages.success(request, MSG_SCORER_ACTIVE % {"version": row.version})
    return redirect("models_ml:scorers")
