import logging
from inspect import iscoroutinefunction

from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """Answer 503 with a readable page, not a traceback, when the database is unreachable."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, (OperationalError, InterfaceError)):
            return database_unavailable_response(exception)
        return None


def database_unavailable_response(exception: Exception) -> HttpResponse:
    logger.error("database unavailable: %s", exception)
    return HttpResponse(render_to_string("503.html"), status=503, headers={"Retry-After": "30"})


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware; the log-in session is saved on every response (idle expiry),
    so a database outage while saving it is the same readable 503 page, not a traceback."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        try:
            return super().process_response(request, response)
        except (OperationalError, InterfaceError) as exc:
            return database_unavailable_response(exc)


class WebSocketDatabaseGuard:
    """ASGI middleware for sockets: a database outage anywhere in the stack (the session and
    user lookup of ``AuthMiddlewareStack`` included) ends the socket with an error frame and
    close code 1013 ("try again later", pages reconnect with backoff) instead of a traceback."""

    CLOSE_CODE = 1013

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        state = {"accepted": False, "closed": False}

        async def tracking_send(message: dict) -> None:
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] == "websocket.close":
                state["closed"] = True
            await send(message)

        try:
            return await self.app(scope, receive, tracking_send)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("database unavailable on a socket %s: %s", scope.get("path"), exc)
            if state["closed"]:
                return None
            import json

            from django.utils.translation import gettext

            from kokoro_site.errors import ERR_SERVER

            if not state["accepted"]:
                await send({"type": "websocket.accept"})
            frame = {"type": "error", "code": "server_error", "message": gettext(str(ERR_SERVER))}
            await send({"type": "websocket.send", "text": json.dumps(frame, ensure_ascii=False)})
            await send({"type": "websocket.close", "code": self.CLOSE_CODE})
            return None


def never_cache_middleware(get_response):
    """``Cache-Control: max-age=0, no-cache, no-store, must-revalidate, private`` on every
    response Django produces: its pages carry transcripts, feedback, predictions, coaching and
    exports, which neither a shared proxy nor the browser's disk cache may keep
    (docs/security.md). Static files are answered by whitenoise before this runs."""
    if iscoroutinefunction(get_response):

        async def middleware(request: HttpRequest) -> HttpResponse:
            response = await get_response(request)
            add_never_cache_headers(response)
            return response

    else:

        def middleware(request: HttpRequest) -> HttpResponse:
            response = get_response(request)
            add_never_cache_headers(response)
            return response

    return middleware


never_cache_middleware.sync_capable = True
never_cache_middleware.async_capable = True
