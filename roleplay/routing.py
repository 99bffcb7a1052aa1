from django.urls import path

from . import consumers, consumers_notifications

websocket_urlpatterns = [
    path("ws/sessions/<int:session_id>/", consumers.ChatConsumer.as_asgi()),
    path("ws/notifications/", consumers_notifications.NotificationConsumer.as_asgi()),
]
