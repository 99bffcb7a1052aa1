from django.urls import path

from roleplay.views import notifications, scheduling

urlpatterns = [
    path("", scheduling.dashboard, name="dashboard"),
    path("dashboard/upcoming/", scheduling.dashboard_upcoming, name="dashboard_upcoming"),
    path("schedule/", scheduling.schedule, name="schedule"),
    path("schedule/slots/<int:pk>/cancel/", scheduling.slot_cancel_view, name="slot_cancel"),
    path("schedule/sessions/<int:pk>/cancel/", scheduling.session_cancel_view, name="session_cancel"),
    path("schedule/sessions/<int:pk>/reschedule/", scheduling.session_reschedule_view, name="session_reschedule"),
    path("schedule/sessions/<int:pk>/setup/", scheduling.session_setup, name="session_setup"),
    path("history/", scheduling.history, name="history"),
    path("notifications/", notifications.notification_list, name="notifications"),
    path("notifications/badge/", notifications.notification_badge, name="notification_badge"),
    path("notifications/read/", notifications.notifications_read, name="notifications_read"),
]
