from django.urls import path

from feedback import views_dataset as views

app_name = "dataset"

urlpatterns = [
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<int:pk>/", views.session_view, name="session_detail"),
    path("export/", views.export, name="export"),
    path("analytics/", views.analytics, name="analytics"),
]
