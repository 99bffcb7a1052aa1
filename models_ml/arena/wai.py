"""WAI-O-S as the Interactive Agents paper applies it (no ORM): the 12 items of the Working Alliance Inventory,
observer-rated short form, asked **one item per prompt** with the item's guideline, rated 1–7, **3 rounds**
per item averaged (Qiu & Lan 2024, §3.2 and Figure 6).

Sources and what is ours:

* **Items**: the 12 items of the short form (Tracey & Kokotovic 1989) in the observer wording of the WAI-O
  (Darchuk, Wang, Weibel, Fende, Anderson & Horvath 2000, *Manual for the Working Alliance Inventory –
  Observer Form*, Revision IV), in the short form's order: task 1, 2, 8, 12; bond 3, 5, 7, 9; goal 4, 6, 10, 11;
  items 4 and 10 are worded negatively and **reverse-keyed** (8 − rating) before the subscale means. The
  Japanese renderings are our translations of the English wording kept next to them.
* **Guidelines**: the manual's per-item guideline texts could not be retrieved from the stored sources. Each
  item carries our own short guideline written on the manual's scheme (start at 4 = no evidence; 1 = very
  strong evidence against the statement, 7 = very strong evidence for it) — labelled as ours, not the manual's.
* **Prompt**: our Japanese translation of the paper's Figure 6 (observer prompt with {conversation},
  {questionnaire}, {guidelines}); the paper's judge was Qwen1.5-110B-Chat, ours is the configured scorer model.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

ERR_WAI_RATING = "The WAI answer does not give one rating from 1 to 7."
PROTOCOL = "wai-o-s/interactive-agents-2024: 12 items, one per prompt, 3 rounds averaged, items 4 and 10 reversed"
DEFAULT_ROUNDS = 3
SUBSCALES = ("goal", "task", "bond")


@dataclass(frozen=True)
class WaiItem:
    number: int
    subscale: str
    reverse: bool
    text_en: str
    text_ja: str
    guideline_ja: str  # ours, on the manual's evidence scheme (see the module docstring)


_SCALE = (
    "評価の出発点は4（証拠なし）とし、対話の中に文の内容を支持する証拠があれば5〜7へ、"
    "否定する証拠があれば3〜1へ動かします。7 = 非常に強い支持の証拠、1 = 非常に強い否定の証拠。"
)

WAI_O_S_ITEMS: tuple[WaiItem, ...] = (
    WaiItem(
        1,
        "task",
        False,
        "There is agreement about the steps taken to help improve the client's situation.",
        "クライアントの状況を良くするために取る手順について、二人の間に合意がある。",
        "カウンセラーが提案した進め方や次の一歩にクライアントが同意・参加していれば支持、拒否や抵抗があれば否定の証拠です。",
    ),
    WaiItem(
        2,
        "task",
        False,
        "There is agreement about the usefulness of the current activity in therapy.",
        "いま相談の中で行っていることが役に立つという点で、二人の間に合意がある。",
        "クライアントが今のやりとりから新しい見方を得ている、役立つと述べていれば支持、無意味だと述べる・関与しなければ否定です。",
    ),
    WaiItem(
        3,
        "bond",
        False,
        "There is a mutual liking between the client and therapist.",
        "クライアントとカウンセラーの間に互いへの好感がある。",
        "温かいやりとり、感謝、親しみのある言葉は支持、冷たさ・敵意・よそよそしさは否定の証拠です。",
    ),
    WaiItem(
        4,
        "goal",
        True,
        "There are doubts or a lack of understanding about what participants are trying to accomplish in therapy.",
        "この相談で何を達成しようとしているのかについて、疑いや理解の欠如がある。",
        "（逆転項目）目標が曖昧なまま話が進む、クライアントが何のための相談かわからないと示す場合は文を支持（高い評定）、"
        "目標が明確に共有されていれば否定（低い評定）です。",
    ),
    WaiItem(
        5,
        "bond",
        False,
        "The client feels confident in the therapist's ability to help the client.",
        "クライアントは、カウンセラーが自分を助けてくれる力を信頼している。",
        "助言や問いかけを受け入れる、期待を述べるのは支持、能力への疑い・失望の表明は否定の証拠です。",
    ),
    WaiItem(
        6,
        "goal",
        False,
        "The client and therapist are working on mutually agreed upon goals.",
        "クライアントとカウンセラーは、互いに合意した目標に取り組んでいる。",
        "話題の移り方が双方の了解のもとで目標に沿っていれば支持、一方的な話題転換や目標をめぐる食い違いは否定です。",
    ),
    WaiItem(
        7,
        "bond",
        False,
        "The client feels that the therapist appreciates him/her as a person.",
        "クライアントは、カウンセラーが自分を一人の人間として大切にしていると感じている。",
        "受容・共感が示され、クライアントがそれを受け止めていれば支持、軽視されている・聞いてもらえないと感じる様子は否定です。",
    ),
    WaiItem(
        8,
        "task",
        False,
        "There is agreement on what is important for the client to work on.",
        "クライアントが取り組むべき大切なことについて、二人の間に合意がある。",
        "焦点となる問題について双方が応じ合っていれば支持、取り組む内容や方向への反対・ずれは否定の証拠です。",
    ),
    WaiItem(
        9,
        "bond",
        False,
        "There is mutual trust between the client and therapist.",
        "クライアントとカウンセラーの間に相互の信頼がある。",
        "クライアントが深い悩みや個人的なことを打ち明けていれば支持、重要な話題を避ける・不信を示すのは否定の証拠です。",
    ),
    WaiItem(
        10,
        "goal",
        True,
        "The client and therapist have different ideas about what the client's real problems are.",
        "クライアントの本当の問題が何かについて、クライアントとカウンセラーの考えが食い違っている。",
        "（逆転項目）問題の捉え方をめぐる食い違いや衝突があれば文を支持（高い評定）、"
        "問題の理解が一致していれば否定（低い評定）です。",
    ),
    WaiItem(
        11,
        "goal",
        False,
        "The client and therapist have established a good understanding between them of the kind of changes that "
        "would be good for the client.",
        "クライアントにとって望ましい変化について、二人の間に十分な共通理解ができている。",
        "どんな変化を目指すか、どう達成するかが双方に明確なら支持、変化をめぐる誤解や不一致は否定の証拠です。",
    ),
    WaiItem(
        12,
        "task",
        False,
        "The client believes that the way they are working with his/her problem is correct.",
        "クライアントは、自分の問題への取り組み方が正しいと考えている。",
        "進め方への満足や納得の表明は支持、相談の進め方への疑い・反発・口論は否定の証拠です。",
    ),
)

# Our Japanese translation of the paper's Figure 6 (LLM-as-a-judge prompt for one WAI-O-S item).
WAI_ITEM_PROMPT = (
    "以下は心理カウンセラーとクライアントの間のカウンセリングのセッションです。"
    "第三者として、対話とガイドラインをよく読み、次の質問項目を1から7の範囲で評定してください。\n"
    "対話の始まり\n{conversation}\n対話の終わり\n"
    "質問項目：{questionnaire}\n"
    "質問項目のガイドラインの始まり\n{guidelines}\nガイドラインの終わり\n"
    "質問項目に答え、評定を一つ示してください。評定は1から7までの数字でなければなりません。あなたの評定は"
)


def item_messages(conversation: str, item: WaiItem) -> list[dict[str, str]]:
    """One prompt for one item (the paper sends the whole prompt as one message)."""
    prompt = WAI_ITEM_PROMPT.format(
        conversation=conversation, questionnaire=item.text_ja, guidelines=f"{item.guideline_ja}\n{_SCALE}"
    )
    return [{"role": "user", "content": prompt}]


_DIGIT = re.compile(r"(?<![\d.])([1-7])(?![\d.])")
_LABELLED = re.compile(r"(?:評定|rating|score|スコア|点数)\s*(?:[:：]|は)?\s*([1-7])(?![\d.])", re.I)


def parse_rating(text: str) -> int:
    """The rating (1–7) of an answer (NFKC first, so ５ works): a labelled one ("評定: 5", "rating: 5"), else the
    only digit 1–7 it contains. Raises ValueError otherwise (none, several different ones, 0, 8, 4.5 ...)."""
    norm = unicodedata.normalize("NFKC", text or "")
    labelled = _LABELLED.findall(norm)
    if labelled:
        return int(labelled[-1])
    if re.search(r"\d\.\d|(?<!\d)[089](?!\d)|\d{2,}", norm):
        raise ValueError(ERR_WAI_RATING)
    found = set(_DIGIT.findall(norm))
    if len(found) != 1:
        raise ValueError(ERR_WAI_RATING)
    return int(found.pop())


@dataclass
class WaiResult:
    rounds: list[list[int]]  # rounds × 12 ratings as given (items as worded)
    items: list[float] = field(default_factory=list)  # per-item mean over rounds, as worded
    scored: list[float] = field(default_factory=list)  # per-item mean with items 4 and 10 reversed (8 - x)
    means: dict[str, float] = field(default_factory=dict)  # goal / task / bond / total of ``scored``


def score(rounds: Sequence[Sequence[int]]) -> WaiResult:
    """Average each item over the rounds, reverse-key items 4 and 10, and take the subscale means."""
    if not rounds or any(len(r) != len(WAI_O_S_ITEMS) for r in rounds):
        raise ValueError(ERR_WAI_RATING)
    items = [sum(r[i] for r in rounds) / len(rounds) for i in range(len(WAI_O_S_ITEMS))]
    scored = [8 - v if item.reverse else v for item, v in zip(WAI_O_S_ITEMS, items, strict=True)]
    groups: dict[str, list[float]] = {g: [] for g in SUBSCALES}
    for item, value in zip(WAI_O_S_ITEMS, scored, strict=True):
        groups[item.subscale].append(value)
    means = {g: sum(v) / len(v) for g, v in groups.items()}
    means["total"] = sum(scored) / len(scored)
    return WaiResult(rounds=[list(r) for r in rounds], items=items, scored=scored, means=means)


def rate_session(
    ask: Callable[[list[dict[str, str]]], int], conversation: str, *, rounds: int = DEFAULT_ROUNDS
) -> WaiResult:
    """``ask(messages) -> rating`` for every item in every round (``rounds`` × 12 prompts)."""
    table = [[ask(item_messages(conversation, item)) for item in WAI_O_S_ITEMS] for _ in range(max(1, rounds))]
    return score(table)


def raw(result: WaiResult) -> str:
    """What a WaiRating keeps as its raw answer: the protocol and every round's ratings (JSON)."""
    import json

    return json.dumps({"protocol": PROTOCOL, "rounds": result.rounds}, ensure_ascii=False)
