from django.contrib import admin

from .items import ITEM_FIELDS, SCREENING_FIELDS
from .models import Feedback, MonitoringReview


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ("evaluation_id", "session", "client", "counselor", "total", "created_at", *SCREENING_FIELDS)
    list_filter = SCREENING_FIELDS
    search_fields = ("evaluation_id", "session__id")
    raw_id_fields = ("session", "client", "counselor")
    list_select_related = ("session", "client", "counselor")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("session", "evaluation_id", "created_at", "client", "counselor", "total")}),
        ("Items", {"fields": ITEM_FIELDS}),
        ("Screening", {"fields": SCREENING_FIELDS}),
    )


@admin.register(MonitoringReview)
class MonitoringReviewAdmin(admin.ModelAdmin):
    """The monitoring audit log: read-only (reviews are added on the monitoring page)."""

    list_display = ("feedback", "reviewer", "created_at", "note")
    raw_id_fields = ("feedback", "reviewer")
    date_hierarchy = "created_at"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
