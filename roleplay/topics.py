"""The 11 KokoroChat topic categories, with the dataset's exact Japanese and English labels."""

from django.db import models
from django.utils.functional import lazy
from django.utils.translation import get_language


def _pick(jp: str, en: str) -> str:
    """The dataset's Japanese label, or its own English label when the page is in English."""
    return en if (get_language() or "").startswith("en") else jp


# Lazy like gettext_lazy: choices show the label of the language active when they are shown.
_label = lazy(_pick, str)


class Topic(models.TextChoices):
    MENTAL_HEALTH = "mental_health", _label("心理的問題", "Mental Health Issues")
    PHYSICAL_HEALTH = "physical_health", _label("身体的健康問題", "Physical Health Issues")
    INTERPERSONAL = "interpersonal", _label("人間関係", "Interpersonal Issues")
    ROMANTIC = "romantic", _label("恋愛問題", "Romantic Issues")
    FAMILY_SPOUSE = "family_spouse", _label("家庭内問題（夫婦）", "Family Issues (Spouse)")
    FAMILY_NON_SPOUSAL = "family_non_spousal", _label("家庭内問題（夫婦以外）", "Family Issues (Non-Spousal)")
    SCHOOL = "school", _label("学校問題", "School Issues")
    FINANCIAL = "financial", _label("経済的問題", "Financial Issues")
    WORKPLACE = "workplace", _label("職場問題", "Workplace Issues")
    CAREER = "career", _label("進路・キャリア問題", "Career and Educational Issues")
    OTHERS = "others", _label("その他", "Others")


# (main_jp, main_en) exactly as the published dataset writes them.
TOPIC_LABELS: dict[str, tuple[str, str]] = {
    Topic.MENTAL_HEALTH: ("心理的問題", "Mental Health Issues"),
    Topic.PHYSICAL_HEALTH: ("身体的健康問題", "Physical Health Issues"),
    Topic.INTERPERSONAL: ("人間関係", "Interpersonal Issues"),
    Topic.ROMANTIC: ("恋愛問題", "Romantic Issues"),
    Topic.FAMILY_SPOUSE: ("家庭内問題（夫婦）", "Family Issues (Spouse)"),
    Topic.FAMILY_NON_SPOUSAL: ("家庭内問題（夫婦以外）", "Family Issues (Non-Spousal)"),
    Topic.SCHOOL: ("学校問題", "School Issues"),
    Topic.FINANCIAL: ("経済的問題", "Financial Issues"),
    Topic.WORKPLACE: ("職場問題", "Workplace Issues"),
    Topic.CAREER: ("進路・キャリア問題", "Career and Educational Issues"),
    Topic.OTHERS: ("その他", "Others"),
}
TOPIC_BY_JP: dict[str, str] = {jp: key for key, (jp, _en) in TOPIC_LABELS.items()}
