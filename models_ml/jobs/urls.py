from django.urls import path

from . import views

app_name = "jobs"

urlpatterns = [
    path("<str:key>/<int:job_id>/", views.job_card, name="card"),
    path("<str:key>/<int:job_id>/cancel/", views.job_cancel_view, name="cancel"),
]
