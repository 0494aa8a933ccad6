"""ASGI entry point: HTTP goes to Django, WebSockets to the Channels router."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.middleware import TokenAuthMiddlewareStack, WebSocketOriginPolicy  # noqa: E402
from checks.asgi import StatusPageApp  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402
from monitoring.intake.asgi import DoorsApp  # noqa: E402

# Everything imported so far lives as long as the process: keep it out of the collector's
# scans, and collect less often (an ingest batch allocates ~10k short-lived dicts).
gc.freeze()
gc.set_threshold(50_000, 20, 20)

application = ProtocolTypeRouter(
    {
        # Public status pages are answered from Redis before Django (anonymous, no database);
        # the push doors (remote-write, OTLP) before Django's handler and middleware.
        "http": DoorsApp(StatusPageApp(django_asgi_app)),
        "websocket": WebSocketOriginPolicy(TokenAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
