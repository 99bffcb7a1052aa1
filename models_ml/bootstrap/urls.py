from django.urls import path

from . import views

app_name = "bootstrap"

urlpatterns = [
    path("", views.setup, name="setup"),
    path("status/", views.setup_status, name="status"),
    path("start/", views.setup_start, name="start"),
    path("<int:run_id>/cancel/", views.setup_cancel, name="cancel"),
    path("import/", views.dataset_import, name="import"),
]
