from django.urls import path

from . import views

app_name = "feedback"

urlpatterns = [
    path("", views.feedback_list, name="list"),
    path("monitoring/", views.feedback_monitoring, name="monitoring"),
    path("monitoring/<int:pk>/review/", views.monitoring_review, name="monitoring_review"),
    path("progress/", views.feedback_progress, name="progress"),
    path("sessions/<int:session_id>/", views.feedback_form, name="form"),
    path("sessions/<int:session_id>/result/", views.feedback_result, name="result"),
    path("sessions/<int:session_id>/result/fragment/", views.feedback_result_fragment, name="result_fragment"),
]
