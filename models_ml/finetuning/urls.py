from django.urls import path

from . import views

app_name = "partners"

urlpatterns = [
    path("", views.jobs, name="jobs"),
    path("jobs/new/", views.job_create, name="job_create"),
    path("jobs/<int:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<int:job_id>/progress/", views.job_progress, name="job_progress"),
    path("jobs/<int:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<int:job_id>/retry/", views.job_retry, name="job_retry"),
    path("role-cards/", views.role_cards, name="role_cards"),
    path("role-cards/new/", views.role_card_edit, name="role_card_create"),
    path("role-cards/examples/", views.role_cards_load_examples, name="role_cards_load_examples"),
    path("role-cards/<int:card_id>/edit/", views.role_card_edit, name="role_card_edit"),
    path("role-cards/<int:card_id>/toggle/", views.role_card_toggle, name="role_card_toggle"),
    path("models/", views.models, name="models"),
    path("models/<int:version_id>/toggle/", views.model_toggle, name="model_toggle"),
    path("models/retrieval/", views.model_build_retrieval, name="model_build_retrieval"),
]
