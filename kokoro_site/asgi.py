import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kokoro_site.settings.local")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from kokoro_site.middleware import WebSocketDatabaseGuard  # noqa: E402
from kokoro_site.ws_origin import TrustedOriginValidator  # noqa: E402
from models_ml.jobs.routing import websocket_urlpatterns as job_websocket_urlpatterns  # noqa: E402
from roleplay.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # The Origin must match the site by scheme, host and port (or CSRF_TRUSTED_ORIGINS).
        "websocket": WebSocketDatabaseGuard(
            TrustedOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns + job_websocket_urlpatterns)))
        ),
    }
)

# First start with the published data at KOKOROCHAT_DIR: queue its import, the scorer and the retrieval
# indexes as background jobs (embedded mode: threads of this process); the server answers meanwhile.
from models_ml.bootstrap.services import bootstrap_on_server_start  # noqa: E402

bootstrap_on_server_start()
