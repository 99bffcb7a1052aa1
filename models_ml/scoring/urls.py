from django.urls import path

from . import views

app_name = "models_ml"

urlpatterns = [
    path("predictions/", views.predictions, name="predictions"),
    path("sessions/<int:session_id>/prediction/", views.prediction_panel, name="prediction_panel"),
]
