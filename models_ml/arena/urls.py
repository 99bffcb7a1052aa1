from django.urls import path

from . import views

app_name = "arena"

urlpatterns = [
    path("", views.index, name="index"),
    path("simulations/", views.simulations, name="simulations"),
    path("simulations/<int:job_id>/", views.simulation_detail, name="simulation_detail"),
    path("simulations/<int:job_id>/progress/", views.simulation_progress, name="simulation_progress"),
    path("battle/", views.arena_start, name="arena_start"),
    path("battle/<int:dialogue_id>/", views.arena_dialogue, name="arena_dialogue"),
    path("battle/<int:dialogue_id>/judge/", views.arena_judge, name="arena_judge"),
    path("battle/<int:dialogue_id>/board/", views.arena_board, name="arena_board"),
    path("judge-jobs/", views.judge_jobs, name="judge_jobs"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("evaluations/", views.evaluations, name="evaluations"),
    path("labels/", views.labels, name="labels"),
    path("jobs/<str:kind>/<int:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<str:kind>/<int:job_id>/progress/", views.job_progress, name="job_progress"),
]
