from django.urls import path

from . import views

app_name = "coaching"

urlpatterns = [
    path("sessions/<int:session_id>/timeline/", views.timeline, name="timeline"),
    path("sessions/<int:session_id>/timeline/body/", views.timeline_body, name="timeline_body"),
    path("sessions/<int:session_id>/suggestions/restart/", views.suggestions_restart, name="suggestions_restart"),
    path("sessions/<int:session_id>/live/", views.live_panel, name="live_panel"),
    path("sessions/<int:session_id>/live/toggle/", views.live_toggle, name="live_toggle"),
]
