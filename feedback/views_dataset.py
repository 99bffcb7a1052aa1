"""Administrators' dataset pages: browse sessions, read transcripts, export, analytics (staff only)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from feedback.dataset.exporter import (
    CONTENT_TYPES,
    MULTILINGUAL,
    export_filename,
    export_stream,
    export_translations_stream,
)
from feedback.dataset.forms import ExportForm, SessionSearchForm
from feedback.dataset.selectors import session_detail, session_messages, session_search_queryset
from feedback.dataset.stats import dataset_correlations, dataset_summary
from feedback.items import ITEMS, SCREENINGS, item_label
from kokoro_site.permissions import staff_required
from roleplay.models import Session, TranscriptReadChannel
from roleplay.selectors.translations import session_translation
from roleplay.services.audit import transcript_read_log
from roleplay.topics import TOPIC_LABELS, Topic

PAGE_SIZE = 50
STREAM_PIECE = 256 * 1024
FEATURE_LABELS = {
    "client_chars": _("Client characters (total)"),
    "counselor_chars": _("Counselor characters (total)"),
    "client_messages": _("Client messages"),
    "counselor_messages": _("Counselor messages"),
    "counselor_response_s": _("Counselor's average response time"),
}


@require_http_methods(["GET", "POST"])
@staff_required
def sessions(request: HttpRequest) -> HttpResponse:
    # The search form and its pager post: a transcript search term never lands in a URL (access
    # logs, browser history, Referer). A term in the query string is ignored.
    data = request.POST.copy() if request.method == "POST" else request.GET.copy()
    if request.method == "GET":
        data.pop("q", None)
    form = SessionSearchForm(data)
    qs = session_search_queryset(form.to_search()) if form.is_valid() else Session.objects.none()
    page = Paginator(qs, PAGE_SIZE).get_page(data.get("page"))
    context = {"form": form, "page": page, "export_form": ExportForm()}
    template = "dataset/_session_table.html" if request.htmx else "dataset/sessions.html"
    return render(request, template, context)


@require_GET
@staff_required
def session_view(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        session = session_detail(pk)
    except Session.DoesNotExist:
        raise Http404 from None
    transcript_read_log(user=request.user, session_id=session.pk, channel=TranscriptReadChannel.DATASET)
    feedback = getattr(session, "feedback", None)
    items = [(i, getattr(feedback, i.field)) for i in ITEMS] if feedback else []
    screenings = [(s, getattr(feedback, s.field)) for s in SCREENINGS] if feedback else []
    return render(
        request,
        "dataset/session_detail.html",
        {
            "session": session,
            "messages_list": session_messages(session),
            "translation": session_translation(session_id=session.pk),
            "feedback": feedback,
            "items": items,
            "screenings": screenings,
        },
    )


@require_POST
@staff_required
def export(request: HttpRequest) -> HttpResponse:
    form = ExportForm(request.POST)
    if not form.is_valid():
        return render(request, "dataset/export_error.html", {"export_form": form}, status=400)
    fmt, language = form.cleaned_data["fmt"], form.cleaned_data["language"]
    options = form.to_options()
    if fmt == MULTILINGUAL:
        chunks, count = export_translations_stream(user=request.user, channel="web", options=options, language=language)
    else:
        chunks, count = export_stream(user=request.user, channel="web", options=options, fmt=fmt)
    content = _async_chunks(chunks) if isinstance(request, ASGIRequest) else _grouped(chunks)
    response = StreamingHttpResponse(content, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{export_filename(options, fmt, language)}"'
    response["X-Dialogue-Count"] = str(count)
    return response


def _grouped(chunks: Iterator[bytes], size: int = STREAM_PIECE) -> Iterator[bytes]:
    """Send pieces of about ``size`` bytes rather than one per dialogue."""
    buf: list[bytes] = []
    held = 0
    for chunk in chunks:
        buf.append(chunk)
        held += len(chunk)
        if held >= size:
            yield b"".join(buf)
            buf, held = [], 0
    if buf:
        yield b"".join(buf)


async def _async_chunks(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Under ASGI a sync iterator would be read whole into memory first; pull it piece by piece."""
    pieces = _grouped(chunks)
    pull = sync_to_async(lambda: next(pieces, None), thread_sensitive=True)
    while (piece := await pull()) is not None:
        yield piece


@require_GET
@staff_required
def analytics(request: HttpRequest) -> HttpResponse:
    summary = dataset_summary()
    corr = dataset_correlations()
    chart_data = {
        "histogram": summary["score_histogram"],
        "topics": [
            {"key": k, "label": str(Topic(k).label), "label_en": TOPIC_LABELS[k][1], "n": n}
            for k, n in summary["topics"].items()
        ],
        "features": [{**f, "label": str(FEATURE_LABELS[f["key"]])} for f in corr["features"]],
        "item_matrix": corr["item_matrix"],
        "item_labels": [f"{i.number}. {item_label(i)}" for i in ITEMS],
    }
    screenings = [(s, summary["screenings"][s.field]) for s in SCREENINGS]
    return render(
        request,
        "dataset/analytics.html",
        {
            "summary": summary,
            "chart_data": chart_data,
            "screenings": screenings,
            "features": chart_data["features"],
            "export_form": ExportForm(),
        },
    )
