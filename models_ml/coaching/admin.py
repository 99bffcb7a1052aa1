from django.contrib import admin

from .models import CoachingSettings, ReferenceStats, SuggestionRun


@admin.register(SuggestionRun)
class SuggestionRunAdmin(admin.ModelAdmin):
    list_display = ("session", "status", "done", "total", "backend", "updated_at")
    list_filter = ("status", "backend")
    readonly_fields = ("suggestions",)


@admin.register(CoachingSettings)
class CoachingSettingsAdmin(admin.ModelAdmin):
    list_display = ("session", "enabled", "updated_by", "updated_at")
    list_filter = ("enabled",)


@admin.register(ReferenceStats)
class ReferenceStatsAdmin(admin.ModelAdmin):
    list_display = ("key", "source_count", "sample_size", "computed_at")
