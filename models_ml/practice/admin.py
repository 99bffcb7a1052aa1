from django.contrib import admin

from .models import PartnerBot, PracticeSession


@admin.register(PracticeSession)
class PracticeSessionAdmin(admin.ModelAdmin):
    list_display = ("session", "ai_role", "model_version", "role_card", "state", "replies", "attempts", "updated_at")
    list_filter = ("ai_role", "state")
    raw_id_fields = ("session",)
    readonly_fields = ("reply_id", "reply_after_seq", "attempts", "replies", "created_at", "updated_at")


@admin.register(PartnerBot)
class PartnerBotAdmin(admin.ModelAdmin):
    list_display = ("key", "user", "ai_role", "created_at")
    raw_id_fields = ("user",)
