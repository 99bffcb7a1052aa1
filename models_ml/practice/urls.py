from django.urls import path

from . import views

app_name = "practice"

urlpatterns = [
    path("start/", views.start, name="start"),
    path("<int:session_id>/retry/", views.retry, name="retry"),
    path("<int:session_id>/end/", views.end, name="end"),
    path("<int:session_id>/review/", views.review, name="review"),
]
