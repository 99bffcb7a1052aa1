import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse

from models_ml.scoring.backends import clear_cache
from models_ml.scoring.base import ERR_NO_MODEL
from models_ml.scoring.models import Prediction, PredictionStatus
from models_ml.scoring.services import prediction_compute, scorer_train
from tests.factories import FeedbackFactory, UserFactory

from .scorer_samples import make_session_with_messages, sample_records


@pytest.fixture
def scored_session(db):
    clear_cache()
    scorer_train(records=sample_records(40), min_sessions=10)
    session = make_session_with_messages(n=10)
    prediction_compute(session_id=session.pk)
    return session


def _panel(client, session):
    return client.get(reverse("models_ml:prediction_panel", args=[session.pk]))


@pytest.mark.django_db
def test_panel_shows_predicted_items_before_the_feedback_arrives(client, scored_session):
    client.force_login(scored_session.counselor)
    response = _panel(client, scored_session)
    assert response.status_code == 200
    p = Prediction.objects.get(session=scored_session)
    html = response.content.decode()
    assert f"<strong>{p.total}</strong>" in html
    assert html.count('<td class="ml-num">') == 20  # predicted column only
    assert 'id="ml-chart-data"' in html


@pytest.mark.django_db
def test_panel_shows_actual_and_difference_once_feedback_exists(client, scored_session):
    FeedbackFactory(session=scored_session, total=40, **{"felt_heard_and_understood": 0})
    p = Prediction.objects.get(session=scored_session)
    client.force_login(scored_session.counselor)
    html = _panel(client, scored_session).content.decode()
    first_diff = p.items[0] - 0
    assert f"{first_diff:+d}</td>" in html
    assert "<strong>40</strong>" in html


@pytest.mark.django_db
def test_panel_explains_missing_model_and_pending_states(client, db):
    clear_cache()
    session = make_session_with_messages(n=10)
    prediction_compute(session_id=session.pk)  # no model trained
    client.force_login(session.counselor)
    html = _panel(client, session).content.decode()
    assert Prediction.objects.get(session=session).status == PredictionStatus.WAITING
    assert 'data-status="waiting"' in html and "errorlist" not in html  # neutral, never a red failure
    assert "manage.py" not in html and "scorer/train/" not in html  # no shell command, no staff button
    assert "ml-waiting" in html
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    staff_html = _panel(client, session).content.decode()
    assert "scorer/train/" in staff_html and str(ERR_NO_MODEL) in staff_html  # the reason and a button
    client.force_login(session.counselor)
    Prediction.objects.filter(session=session).update(status=PredictionStatus.PENDING, reason="")
    assert 'data-status="pending"' in _panel(client, session).content.decode()


@pytest.mark.django_db
def test_panel_is_refused_to_the_client_role_participant(client, scored_session):
    client.force_login(scored_session.client)
    assert _panel(client, scored_session).status_code == 403


@pytest.mark.django_db
def test_included_panel_renders_with_session_context(scored_session):
    request = RequestFactory().get("/")
    request.user = scored_session.counselor
    html = render_to_string("models_ml/_prediction_panel.html", {"session": scored_session}, request=request)
    assert f'data-session-id="{scored_session.pk}"' in html
    assert "prediction_panel.js" in html


@pytest.mark.django_db
def test_predictions_page_is_staff_only(client, scored_session):
    client.force_login(scored_session.counselor)
    response = client.get(reverse("models_ml:predictions"))
    assert response.status_code == 403


@pytest.mark.django_db
def test_predictions_page_lists_predicted_vs_actual_with_mae(client, scored_session):
    p = Prediction.objects.get(session=scored_session)
    FeedbackFactory(session=scored_session, total=p.total + 3)
    client.force_login(UserFactory(is_staff=True))
    html = client.get(reverse("models_ml:predictions")).content.decode()
    assert f"#{scored_session.pk}" in html
    assert "-3" in html
    assert "<strong>3.00</strong>" in html  # MAE of the total over one session
    filtered = client.get(reverse("models_ml:predictions"), {"status": "failed"}).content.decode()
    assert f"#{scored_session.pk}" not in filtered


@pytest.mark.django_db
def test_admin_action_activates_exactly_the_chosen_scorer_version(client):
    from models_ml.scoring.models import ScorerModel

    old = ScorerModel.objects.create(version="cpu-old", path="x", sha256="0" * 64, is_active=True)
    new = ScorerModel.objects.create(version="cpu-new", path="y", sha256="1" * 64)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:models_ml_scorermodel_changelist")
    response = client.post(url, {"action": "activate", "_selected_action": [new.pk]})
    assert response.status_code == 302
    old.refresh_from_db()
    new.refresh_from_db()
    assert new.is_active and not old.is_active


@pytest.mark.django_db
def test_predictions_page_shows_the_active_scorer_on_both_splits_beside_the_baselines(client, scored_session):
    from models_ml.scoring.models import ScorerModel
    from models_ml.scoring.services import scorer_model_attach_evaluation

    row = ScorerModel.objects.get(is_active=True)
    summary = {
        "test_seed": 0,
        "seeds": [0, 1, 2, 3, 4],
        "test_size": 658,
        "use_ids": False,
        "baselines": {
            "majority": {"acc": 36.75, "acc_soft": 80.83, "mae": 0.839},
            "rater_mean": {"acc": 37.93, "acc_soft": 84.84, "mae": 0.794},
        },
    }
    scorer_model_attach_evaluation(
        scorer_model=row,
        evaluations=[
            {**summary, "split": "random", "model": {"acc": 44.12, "acc_soft": 90.31, "mae": 0.6712}},
            {**summary, "split": "client", "model": {"acc": 41.07, "acc_soft": 88.55, "mae": 0.7151}},
        ],
    )
    client.force_login(UserFactory(is_staff=True))
    html = client.get(reverse("models_ml:predictions")).content.decode()
    assert row.version in html and "テキストのみ" in html  # "text only", in the default Japanese UI
    assert 'data-split="random"' in html and 'data-split="client"' in html
    for figure in ("44.12", "0.6712", "41.07", "0.7151", "36.75", "0.8390", "37.93", "84.84"):
        assert figure in html
    assert "シード 0, 1, 2, 3, 4" in html


@pytest.mark.django_db
def test_predictions_page_says_when_no_scorer_is_active(client):
    client.force_login(UserFactory(is_staff=True))
    html = client.get(reverse("models_ml:predictions")).content.decode()
    assert "有効な自動評価モデルはまだありません。" in html  # "No scorer is active yet."
