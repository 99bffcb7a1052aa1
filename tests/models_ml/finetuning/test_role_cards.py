from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from models_ml.finetuning import services
from models_ml.finetuning.models import RoleCard
from models_ml.llm.role_cards import ERR_TOO_LONG, example_role_cards, render_client_system_prompt


def card_data(**overrides):
    data = next(iter(example_role_cards().values())).to_dict()
    data["name"] = "テスト用カード"
    data.update(overrides)
    return data


def test_a_valid_card_is_saved_and_renders_the_ai_client_prompt(db, staff_user):
    card = services.role_card_create(data=card_data(), created_by=staff_user)
    assert card.created_by == staff_user and card.is_active
    prompt = render_client_system_prompt(card.to_core())
    assert card.chief_complaint in prompt and f"{card.age}歳" in prompt


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"chief_complaint": "あ" * 401}, ERR_TOO_LONG.split("{")[0]),
        ({"gender": ""}, "required"),
        ({"age": 5}, "age"),
        ({"age": "三十"}, "age"),
        ({"big_five": {"openness": "高い"}}, "big_five"),
        ({"big_five": {"openness": "x" * 41, "conscientiousness": "a", "extraversion": "a", "agreeableness": "a",
                       "neuroticism": "a"}}, "openness"),
        ({"family": "父\x00母"}, str(services.ERR_RC_NUL)),
        ({"admin": True}, "Unknown"),
        ({"name": ""}, str(services.ERR_RC_NAME)),
        ({"name": "n" * 61}, str(services.ERR_RC_NAME)),
        ({"family": ["list"]}, "text"),
    ],
)  # fmt: skip
def test_missing_oversized_or_hostile_cards_are_rejected_and_nothing_saved(db, overrides, expected):
    with pytest.raises(services.PartnersError) as exc:
        services.role_card_create(data=card_data(**overrides))
    assert expected in exc.value.message
    assert RoleCard.objects.count() == 0


def test_markup_is_stored_as_text_and_escaped_on_the_page(client, staff_user):
    services.role_card_create(data=card_data(chief_complaint="<script>alert('x')</script>眠れない"))
    client.force_login(staff_user)
    html = client.get("/ml/partners/role-cards/").content.decode()
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;眠れない" in html


def test_duplicate_names_are_refused_on_create_and_update(db):
    first = services.role_card_create(data=card_data(name="A"))
    services.role_card_create(data=card_data(name="B"))
    with pytest.raises(services.PartnersError, match=re.escape(str(services.ERR_RC_NAME_TAKEN))):
        services.role_card_create(data=card_data(name="A"))
    with pytest.raises(services.PartnersError, match=re.escape(str(services.ERR_RC_NAME_TAKEN))):
        services.role_card_update(role_card=first, data=card_data(name="B"))
    first.refresh_from_db()
    assert first.name == "A"


def test_update_revalidates_and_keeps_the_old_values_on_error(db):
    card = services.role_card_create(data=card_data())
    with pytest.raises(services.PartnersError):
        services.role_card_update(role_card=card, data=card_data(age=200))
    card.refresh_from_db()
    assert 10 <= card.age <= 100
    services.role_card_update(role_card=card, data=card_data(age=41, occupation="看護師"))
    card.refresh_from_db()
    assert (card.age, card.occupation) == (41, "看護師")


def test_load_example_role_cards_command_is_idempotent(db, capsys):
    call_command("load_example_role_cards")
    call_command("load_example_role_cards")
    names = set(RoleCard.objects.values_list("name", flat=True))
    examples = [*example_role_cards().values(), *example_role_cards("en").values()]  # Japanese and English
    assert names == {c.name for c in examples} and len(names) == 6
    assert set(RoleCard.objects.filter(language="en").values_list("name", flat=True)) == {
        c.name for c in example_role_cards("en").values()
    }
    out = capsys.readouterr().out
    assert "6 example" in out and "0 example" in out


def test_the_role_card_element_list_is_defined_once_and_everything_follows_it():
    import dataclasses

    from models_ml.finetuning.forms import RoleCardForm
    from models_ml.finetuning.models import RoleCard as RoleCardModel
    from models_ml.llm.role_cards import CARD_FIELDS, TEXT_FIELDS
    from models_ml.llm.role_cards import RoleCard as CoreRoleCard

    from .conftest import CARD_FIELDS as EXAMPLE

    assert len(CARD_FIELDS) == 9 and set(TEXT_FIELDS) < set(CARD_FIELDS)
    # besides the nine elements a card has two labels: its name and the language it is written in (issue 20)
    metadata = ("name", "language")
    assert tuple(f.name for f in dataclasses.fields(CoreRoleCard) if f.name not in metadata) == CARD_FIELDS
    assert all(RoleCardModel._meta.get_field(field) for field in (*CARD_FIELDS, *metadata))
    assert set(EXAMPLE) == set(CARD_FIELDS)
    form_fields = set(RoleCardForm.base_fields)
    assert set(CARD_FIELDS) - {"big_five"} <= form_fields and "language" in form_fields
