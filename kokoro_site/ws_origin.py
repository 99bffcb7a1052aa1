"""WebSocket origin check by scheme, host and port (what Django's CSRF check does for forms).

A socket is let through when its ``Origin`` is

* the site itself: same scheme (``wss`` / a trusted ``X-Forwarded-Proto: https`` → ``https``),
  and the same host and port as the ``Host`` header, which must be in ``ALLOWED_HOSTS``; or
* listed in ``CSRF_TRUSTED_ORIGINS`` (``https://*.example.org`` matches subdomains).

Anything else (another port, ``http`` for an ``https`` site, ``null``, no ``Origin``) is refused
before the socket opens: the browser sees the handshake fail (HTTP 403).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host

DEFAULT_PORTS = {"http": "80", "https": "443"}


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def _origin_parts(value: str) -> tuple[str, str, str] | None:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), str(port) if port else DEFAULT_PORTS[parts.scheme]


def _site_scheme(scope: dict) -> str:
    if scope.get("scheme") in ("wss", "https"):
        return "https"
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name = proxy[0].removeprefix("HTTP_").lower().replace("_", "-").encode()
        forwarded = (_header(scope, name) or "").split(",")[0].strip()
        if forwarded == proxy[1]:
            return "https"
    return "http"


def origin_trusted(scope: dict) -> bool:
    origin = _origin_parts(_header(scope, b"origin") or "")
    if origin is None:
        return False
    for pattern in settings.CSRF_TRUSTED_ORIGINS:
        trusted = _origin_parts(pattern.replace("*.", "wildcard."))
        if trusted is None:
            continue
        host = trusted[1]
        if host.startswith("wildcard."):
            host = "." + host.removeprefix("wildcard.")
        if origin[0] == trusted[0] and origin[2] == trusted[2] and is_same_domain(origin[1], host):
            return True
    host_header = (_header(scope, b"host") or "").lower()
    domain, port = split_domain_port(host_header)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    scheme = _site_scheme(scope)
    return origin == (scheme, domain.strip("[]"), port or DEFAULT_PORTS[scheme])


class TrustedOriginValidator:
    """ASGI middleware for the websocket router (see ``kokoro_site.asgi``)."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if origin_trusted(scope):
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
