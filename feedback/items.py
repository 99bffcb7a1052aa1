"""The KokoroChat client-feedback questionnaire: 20 Likert items (0-5) and 3 screening items.

Order, Japanese labels and English keys are the published dataset's, verbatim (including
its spelling ``clarified_issues_cleraly``): the export depends on them.
"""

from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Item:
    number: int
    field: str  # model field name
    jp: str  # dataset key in review_by_client_jp
    en: str  # dataset key in review_by_client_en
    group: str
    aspect: str

    @property
    def label(self) -> str:
        """The text in the current UI language (templates: ``{{ item.label }}``)."""
        return item_label(self)


GROUP_IMPRESSION = "impression"
GROUP_SKILLS = "skills"
GROUP_LABELS = {
    GROUP_IMPRESSION: _("Overall impression of the conversation"),
    GROUP_SKILLS: _("Evaluation of counseling skills"),
}
ASPECT_LABELS = {
    "validation": _("Sense of validation"),
    "awareness": _("Awareness and hope"),
    "engagement": _("Engagement"),
    "flow_comfort": _("Flow and comfort"),
    "overall": _("Overall evaluation"),
    "flow": _("Flow of conversation"),
    "skills": _("Counseling skills"),
}

_I, _S = GROUP_IMPRESSION, GROUP_SKILLS
ITEMS: tuple[Item, ...] = (
    Item(
        1,
        "felt_heard_and_understood",
        "聴いてもらえた、わかってもらえたと感じた",
        "felt_heard_and_understood",
        _I,
        "validation",
    ),
    Item(2, "felt_respected", "尊重されたと感じた", "felt_respected", _I, "validation"),
    Item(3, "gained_new_insights", "新しい気づきや体験があった", "gained_new_insights", _I, "awareness"),
    Item(4, "felt_hopeful_or_expectant", "希望や期待を感じられた", "felt_hopeful_or_expectant", _I, "awareness"),
    Item(5, "concerns_were_addressed", "取り組みたかったことを扱えた", "concerns_were_addressed", _I, "engagement"),
    Item(
        6,
        "thought_through_concerns_together",
        "一緒に考えながら取り組めた",
        "thought_through_concerns_together",
        _I,
        "engagement",
    ),
    Item(
        7,
        "conversation_had_good_rhythm",
        "やりとりのリズムがあっていた",
        "conversation_had_good_rhythm",
        _I,
        "flow_comfort",
    ),
    Item(
        8,
        "conversation_felt_comfortable",
        "居心地のよいやりとりだった",
        "conversation_felt_comfortable",
        _I,
        "flow_comfort",
    ),
    Item(
        9,
        "felt_appropriate_and_satisfying",
        "全体として適切でよかった",
        "felt_appropriate_and_satisfying",
        _I,
        "overall",
    ),
    Item(10, "conversation_was_valuable", "今回の相談は価値があった", "conversation_was_valuable", _I, "overall"),
    Item(11, "conversation_started_smoothly", "相談開始の円滑さ", "conversation_started_smoothly", _S, "flow"),
    Item(
        12,
        "conversation_ended_well",
        "相談終了のタイミング（不必要に聴きすぎていないか）、円滑さ",
        "conversation_ended_well",
        _S,
        "flow",
    ),
    Item(13, "showed_acceptance_and_empathy", "受容・共感", "showed_acceptance_and_empathy", _S, "skills"),
    Item(
        14,
        "provided_acknowledgment_and_affirmation",
        "肯定・承認",
        "provided_acknowledgment_and_affirmation",
        _S,
        "skills",
    ),
    Item(15, "asked_effective_questions", "的確な質問による会話の促進", "asked_effective_questions", _S, "skills"),
    Item(16, "summarized_key_points_effectively", "要約", "summarized_key_points_effectively", _S, "skills"),
    Item(17, "clarified_issues_clearly", "問題の明確化", "clarified_issues_cleraly", _S, "skills"),
    Item(18, "helped_identify_goals", "この相談での目標の明確化", "helped_identify_goals", _S, "skills"),
    Item(
        19, "offered_actionable_suggestions", "次の行動につながる提案", "offered_actionable_suggestions", _S, "skills"
    ),
    Item(20, "encouraged_and_instilled_hope", "勇気づけ・希望の喚起", "encouraged_and_instilled_hope", _S, "skills"),
)
ITEM_FIELDS: tuple[str, ...] = tuple(i.field for i in ITEMS)


@dataclass(frozen=True)
class Screening:
    code: str
    field: str
    jp: str
    en: str

    @property
    def label(self) -> str:
        return screening_label(self)


SCREENINGS: tuple[Screening, ...] = (
    Screening("S1", "harmful_due_to_ignorance", "無理解と軽率さによる傷つけ発言", "harmful_due_to_ignorance"),
    Screening("S2", "other_potentially_unethical", "その他の倫理違反が疑われる発言", "other_potentially_unethical"),
    Screening("S3", "unwilling_to_continue", "離脱", "unwilling_to_continue"),
)
SCREENING_FIELDS: tuple[str, ...] = tuple(s.field for s in SCREENINGS)
SCREENING_CHECKED_JP = "チェックあり"  # the dataset's value for a checked screening item

# Header keys of review_by_client_jp / review_by_client_en, in dataset order.
HEADER_JP = ("評価ID", "評価作成日時", "クライアント役ID", "カウンセラー役ID", "点数")
HEADER_EN = ("evaluation_id", "evaluation_created_at", "client_id", "counselor_id", "score")

ITEM_MIN, ITEM_MAX = 0, 5
ITEM_SCALE: tuple[int, ...] = tuple(range(ITEM_MIN, ITEM_MAX + 1))
ITEMS_BY_FIELD = {i.field: i for i in ITEMS}
SCREENINGS_BY_FIELD = {s.field: s for s in SCREENINGS}
# Aspects in questionnaire order (each belongs to one group).
ASPECTS: tuple[str, ...] = tuple(dict.fromkeys(i.aspect for i in ITEMS))
ASPECT_GROUP = {i.aspect: i.group for i in ITEMS}

# English meaning of each item. The Japanese wording is the dataset's (``Item.jp``) and is what
# Japanese users see; these are shown when the UI language is English.
ITEM_LABELS_EN = {
    "felt_heard_and_understood": "I felt listened to and understood",
    "felt_respected": "I felt respected",
    "gained_new_insights": "I gained new insights or experiences",
    "felt_hopeful_or_expectant": "I felt hope or expectation",
    "concerns_were_addressed": "We dealt with what I wanted to work on",
    "thought_through_concerns_together": "We worked on it, thinking it through together",
    "conversation_had_good_rhythm": "The rhythm of the exchange suited me",
    "conversation_felt_comfortable": "The exchange felt comfortable",
    "felt_appropriate_and_satisfying": "Overall, it was appropriate and good",
    "conversation_was_valuable": "This consultation was valuable",
    "conversation_started_smoothly": "Smooth start of the consultation",
    "conversation_ended_well": "Timing and smoothness of the ending (not listening on needlessly)",
    "showed_acceptance_and_empathy": "Acceptance and empathy",
    "provided_acknowledgment_and_affirmation": "Affirmation and acknowledgment",
    "asked_effective_questions": "Moving the conversation forward with well-aimed questions",
    "summarized_key_points_effectively": "Summarizing",
    "clarified_issues_clearly": "Clarifying the problem",
    "helped_identify_goals": "Clarifying the goal of this consultation",
    "offered_actionable_suggestions": "Suggestions that lead to next actions",
    "encouraged_and_instilled_hope": "Encouragement and evoking hope",
}
SCREENING_LABELS_EN = {
    "harmful_due_to_ignorance": "Hurtful remarks from lack of understanding or carelessness",
    "other_potentially_unethical": "Other remarks suspected of being unethical",
    "unwilling_to_continue": "Withdrawal",
}
SCREENING_HELP = {
    "harmful_due_to_ignorance": _(
        "The counselor said something that hurt you, out of a lack of understanding or carelessness."
    ),
    "other_potentially_unethical": _(
        "Other remarks that may be unethical, e.g. statements that read as a medical diagnosis, advice on "
        "medication, occult claims, or sexually inappropriate remarks."
    ),
    "unwilling_to_continue": _("You do not want to keep talking with this counselor."),
}


def _japanese() -> bool:
    return (get_language() or "ja").startswith("ja")


def item_label(item: Item) -> str:
    """The item's text in the current UI language (Japanese: the dataset's own wording)."""
    return item.jp if _japanese() else ITEM_LABELS_EN[item.field]


def screening_label(screening: Screening) -> str:
    return screening.jp if _japanese() else SCREENING_LABELS_EN[screening.field]


def compute_total(items: list[int] | tuple[int, ...], *, s1: bool, s2: bool, s3: bool) -> int:
    """The KokoroChat score rule: 0 if S1 or S2; floor(sum/2) if S3; else the sum of the 20 items."""
    if len(items) != len(ITEMS):
        raise ValueError(f"expected {len(ITEMS)} items, got {len(items)}")
    if any(not (ITEM_MIN <= v <= ITEM_MAX) for v in items):
        raise ValueError("item values must be between 0 and 5")
    if s1 or s2:
        return 0
    total = sum(items)
    return total // 2 if s3 else total
