from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from feedback.items import ITEM_FIELDS
from feedback.models import Feedback
from roleplay.models import Message, Profile, Role, Session, SessionStatus


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-12345")
    profile = factory.RelatedFactory("tests.factories.ProfileFactory", factory_related_name="user")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    user = factory.SubFactory(UserFactory, profile=None)
    display_name = factory.LazyAttribute(lambda p: f"name-{p.user.username}")


class SessionFactory(factory.django.DjangoModelFactory):
    """A live session that started a minute ago, by default."""

    class Meta:
        model = Session

    counselor = factory.SubFactory(UserFactory)
    client = factory.SubFactory(UserFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1))
    duration_minutes = 60
    status = SessionStatus.LIVE
    started_at = factory.LazyAttribute(lambda s: s.starts_at)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    session = factory.SubFactory(SessionFactory)
    seq = factory.Sequence(lambda n: n + 1)
    role = Role.COUNSELOR
    text = factory.Sequence(lambda n: f"message {n}")


class FeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feedback

    session = factory.SubFactory(SessionFactory, status=SessionStatus.ENDED)
    evaluation_id = factory.Sequence(lambda n: 900000 + n)
    client = factory.LazyAttribute(lambda f: f.session.client)
    counselor = factory.LazyAttribute(lambda f: f.session.counselor)
    total = 60

    @factory.lazy_attribute
    def _items(self):
        return None

    @classmethod
    def _adjust_kwargs(cls, **kwargs):
        kwargs.pop("_items", None)
        if not any(field in kwargs for field in ITEM_FIELDS) and 0 <= kwargs.get("total", -1) <= 100:
            # Items that add up to the total (the score rule holds, so the record exports and imports).
            base, extra = divmod(kwargs["total"], len(ITEM_FIELDS))
            for n, field in enumerate(ITEM_FIELDS):
                kwargs[field] = base + 1 if n < extra else base
        for field in ITEM_FIELDS:
            kwargs.setdefault(field, 3)
        return kwargs
