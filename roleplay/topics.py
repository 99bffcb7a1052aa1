"""The 11 KokoroChat topic categories, with the dataset's exact Japanese and English labels."""

from django.db import models


class Topic(models.TextChoices):
    MENTAL_HEALTH = "mental_health", "心理的問題"
    PHYSICAL_HEALTH = "physical_health", "身体的健康問題"
    INTERPERSONAL = "interpersonal", "人間関係"
    ROMANTIC = "romantic", "恋愛問題"
    FAMILY_SPOUSE = "family_spouse", "家庭内問題（夫婦）"
    FAMILY_NON_SPOUSAL = "family_non_spousal", "家庭内問題（夫婦以外）"
    SCHOOL = "school", "学校問題"
    FINANCIAL = "financial", "経済的問題"
    WORKPLACE = "workplace", "職場問題"
    CAREER = "career", "進路・キャリア問題"
    OTHERS = "others", "その他"


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
