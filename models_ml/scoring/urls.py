from django.urls import path

from . import views

app_name = "models_ml"

urlpatterns = [
    path("predictions/", views.predictions, name="predictions"),
    path("sessions/<int:session_id>/prediction/", views.prediction_panel, name="prediction_panel"),
    path("scorer/", views.scorers, name="scorers"),
    path("scorer/train/", views.scorer_train, name="scorer_train"),
    path("scorer/<int:scorer_id>/activate/", views.scorer_activate, name="scorer_activate"),
]
