from django.urls import include, path

app_name = "roleplay"

urlpatterns = [
    path("", include("roleplay.urls_scheduling")),
    path("sessions/", include("roleplay.urls_chat")),
]
