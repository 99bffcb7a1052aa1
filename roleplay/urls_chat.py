from django.urls import path

from roleplay.views import chat

urlpatterns = [
    path("<int:pk>/", chat.session_room, name="session"),
    path("<int:pk>/end/", chat.session_end_view, name="session_end"),
    path("<int:pk>/start-now/", chat.session_start_now_view, name="session_start_now"),
]
