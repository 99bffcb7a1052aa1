from django.contrib import admin

from .models import FineTuneJob, ModelVersion, RoleCard


@admin.register(RoleCard)
class RoleCardAdmin(admin.ModelAdmin):
    list_display = ("name", "gender", "age", "occupation", "is_active", "created_at")
    list_filter = ("is_active",)
    search_fields = ("name", "chief_complaint")


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "backend", "is_active", "created_at")
    list_filter = ("kind", "backend", "is_active")


@admin.register(FineTuneJob)
class FineTuneJobAdmin(admin.ModelAdmin):
    list_display = ("pk", "task", "data_subset", "status", "step", "total_steps", "created_at", "worker_hostname")
    list_filter = ("status", "task")
    readonly_fields = ("loss_history", "log_tail", "metrics", "heartbeat_at", "celery_task_id")
