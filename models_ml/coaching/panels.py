"""The coaching panels on roleplay's and feedback's pages (kokoro_site.panels): the live panel of the
counselor's chat, the "Review with AI" links of the history and the result page, and the skills charts of
the progress page. Registered in ``CoachingConfig.ready()``."""

from __future__ import annotations

from kokoro_site.panels import panel_register
from roleplay.models import Role, SessionStatus

from . import selectors, services
from .presenters import live_panel_context
from .selectors import counselor_skill_progress


def _user(context):
    return getattr(context.get("request"), "user", None)


def live_panel(context, *, session) -> dict:
    """The live coaching panel; rendered for the session's counselor only (empty for anyone else)."""
    request = context.get("request")
    user = _user(context)
    if session is None or user is None or session.role_of(user) != Role.COUNSELOR:
        return {"show": False}
    return {"show": True, "request": request, "csrf_token": context.get("csrf_token"), **live_panel_context(session)}


def history_review_link(context, *, session, card) -> dict | None:
    return {} if card.is_counselor else None


def result_review_link(context, *, session) -> dict | None:
    user = _user(context)
    allowed = user is not None and (session.counselor_id == user.pk or user.is_staff)
    return {} if allowed and session.status == SessionStatus.ENDED else None


def practice_review_timeline(context, *, session) -> dict | None:
    """The review timeline on the AI practice review page (the suggestions are computed on first view)."""
    user = _user(context)
    if user is None or session.status != SessionStatus.ENDED or not (session.counselor_id == user.pk or user.is_staff):
        return None
    run = services.suggestion_run_ensure(session=session)
    return {"run": run, **selectors.timeline(session=session, run=run)}


def progress_skills(context) -> dict | None:
    user = _user(context)
    return {"skills": counselor_skill_progress(user=user)} if user is not None else None


def register_panels() -> None:
    panel_register(
        slot="roleplay.session_counselor_side",
        name="coaching.live",
        template="coaching/_live_panel.html",
        context=live_panel,
    )
    panel_register(
        slot="roleplay.history_actions",
        name="coaching.review_link",
        template="coaching/_history_link.html",
        context=history_review_link,
    )
    panel_register(
        slot="feedback.result",
        name="coaching.review_link",
        template="coaching/_result_link.html",
        context=result_review_link,
        order=20,
    )
    panel_register(
        slot="practice.review",
        name="coaching.timeline",
        template="coaching/_review_panel.html",
        context=practice_review_timeline,
        order=20,
    )
    panel_register(
        slot="feedback.progress",
        name="coaching.skills",
        template="coaching/_progress_skills.html",
        context=progress_skills,
    )
