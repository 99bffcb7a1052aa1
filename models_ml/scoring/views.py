from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from feedback.views import staff_required
from roleplay.models import Session, SessionSource

from .models import PredictionStatus
from .presenters import panel_context
from .selectors import prediction_errors, prediction_list


@login_required
def prediction_panel(request, session_id: int):
    """The panel's body (re-fetched by prediction_panel.js when a prediction/feedback frame arrives)."""
    session = get_object_or_404(Session.objects.select_related("counselor", "client"), pk=session_id)
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
        },
    )
