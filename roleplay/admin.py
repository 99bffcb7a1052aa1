from django.contrib import admin

from .models import AvailabilitySlot, Message, Profile, Session, TranscriptRead, TranscriptReadChannel
from .services.audit import transcript_read_log


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("display_name", "user", "qualification", "preferred_role", "training_hours", "dataset_id")
    list_filter = ("qualification", "preferred_role", "gender", "age_band")
    search_fields = ("display_name", "user__username")
    list_select_related = ("user",)
    raw_id_fields = ("user",)


@admin.register(AvailabilitySlot)
class AvailabilitySlotAdmin(admin.ModelAdmin):
    list_display = ("user", "role", "starts_at", "ends_at", "status", "session")
    list_filter = ("status", "role")
    search_fields = ("user__username", "user__profile__display_name")
    date_hierarchy = "starts_at"
    raw_id_fields = ("user", "session")
    list_select_related = ("user", "session")


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ("seq", "role", "text", "created_at")
    readonly_fields = fields
    can_delete = False
    show_change_link = False


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("id", "counselor", "client", "starts_at", "status", "source", "topic", "last_seq")
    list_filter = ("status", "source", "topic", "is_synthetic")
    search_fields = ("id", "topic_sub", "counselor__username", "client__username")
    date_hierarchy = "starts_at"
    raw_id_fields = ("counselor", "client")
    list_select_related = ("counselor", "client")


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("session", "seq", "role", "created_at", "text")
    search_fields = ("text",)
    list_filter = ("session",)
    raw_id_fields = ("session", "sender")
    list_select_related = ("session",)

    def changelist_view(self, request, extra_context=None):
        """Reading one session's messages here is audit-logged like the dataset page."""
        session_id = request.GET.get("session__id__exact")
        if session_id and session_id.isdigit():
            transcript_read_log(user=request.user, session_id=int(session_id), channel=TranscriptReadChannel.ADMIN)
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        message = Message.objects.filter(pk=object_id).only("session_id").first() if object_id.isdigit() else None
        if message is not None:
            transcript_read_log(user=request.user, session_id=message.session_id, channel=TranscriptReadChannel.ADMIN)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(TranscriptRead)
class TranscriptReadAdmin(admin.ModelAdmin):
    list_display = ("created_at", "user", "session", "channel")
    list_filter = ("channel",)
    raw_id_fields = ("user", "session")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
