from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .models import Prediction, ScorerModel
from .services import scorer_model_activate


@admin.register(ScorerModel)
class ScorerModelAdmin(admin.ModelAdmin):
    list_display = ("version", "backend", "created_at", "train_size", "is_active")
    list_filter = ("backend", "is_active")
    readonly_fields = (
        "version",
        "backend",
        "created_at",
        "path",
        "sha256",
        "train_size",
        "feature_config",
        "metrics",
        "is_active",
    )
    actions = ["activate"]

    @admin.action(description=_("Activate the selected scorer version"))
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, _("Select exactly one version."), messages.ERROR)
            return
        scorer_model_activate(scorer_model=queryset.get())
        self.message_user(request, _("Activated."), messages.SUCCESS)


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ("session", "status", "total", "model_version", "created_at", "finished_at")
    list_filter = ("status", "backend")
    search_fields = ("session__id", "model_version")
    raw_id_fields = ("session",)
