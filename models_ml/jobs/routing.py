from django.urls import path

from . import consumers

websocket_urlpatterns = [
    path("ws/jobs/", consumers.JobProgressConsumer.as_asgi()),
]
