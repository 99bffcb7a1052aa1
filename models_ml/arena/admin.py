from django.contrib import admin

from .models import ArenaBattle, ArenaDialogue, EvalJob, JudgeJob, LabelJob, SimulatedSession, SimulationJob, WaiRating


@admin.register(SimulationJob, JudgeJob, EvalJob, LabelJob)
class JobAdmin(admin.ModelAdmin):
    list_display = ("pk", "status", "done", "failed", "total", "created_at")
    list_filter = ("status",)


@admin.register(ArenaBattle)
class ArenaBattleAdmin(admin.ModelAdmin):
    list_display = ("pk", "model_a", "model_b", "winner", "judge_kind", "judge_model", "created_at")
    list_filter = ("judge_kind", "winner")


admin.site.register([SimulatedSession, ArenaDialogue, WaiRating])
