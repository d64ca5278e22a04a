"""The hub's side of each scenario, made through the project's services in the bench database.

Users and conversations are made once (idempotent); tokens are fresh for every run.
Call `django_ready()` first: it points Django at the bench database and Redis.
"""

import os
from datetime import timedelta

from bench.versus.servers import HUB_ENV


def django_ready() -> None:
    os.environ.update(HUB_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def _user(email: str, role: str):
    from accounts.models import User
    from accounts.services import user_create

    found = User.objects.filter(email=email).first()
    return found or user_create(email=email, password=None, name=email[:12], role=role)


def _token(user) -> str:
    from accounts.services import token_create

    return token_create(user=user, name="versus")[1]


def fresh_tokens() -> None:
    """Forget the previous run's tokens, so the token table stays small."""
    from accounts.models import ApiToken

    ApiToken.objects.filter(name="versus").delete()


def chat_pairs(conversations: int, one_instructor: bool) -> list[tuple[int, str, str]]:
    """(conversation id, student token, instructor token) per conversation.

    One instructor: the same teacher talks with every student (a popular teacher).
    """
    from chat.services import conversation_open

    shared = _user("vs-popular@bench.example", "instructor") if one_instructor else None
    shared_token = _token(shared) if shared is not None else None
    pairs = []
    for n in range(conversations):
        student = _user(f"vs-s{n}@bench.example", "student")
        teacher = shared or _user(f"vs-i{n}@bench.example", "instructor")
        conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
        pairs.append((conversation.pk, _token(student), shared_token or _token(teacher)))
    return pairs


def one_user() -> tuple[int, str]:
    """The user whose `user:` topic the fan-out, idle and storm clients share."""
    user = _user("vs-fan@bench.example", "student")
    return user.pk, _token(user)


def race_setup(students: int) -> tuple[int, str, list[str]]:
    """An instructor with one free slot ahead (a fresh one each run) and racing students."""
    from datetime import time as clock

    from django.utils import timezone

    from bookings.models import Service
    from bookings.selectors import free_slots
    from bookings.services import availability_replace, service_create

    teacher = _user("vs-race-teacher@bench.example", "instructor")
    service = Service.objects.filter(instructor__user=teacher).first()
    if service is None:
        service = service_create(
            instructor=teacher, name="Race lesson", duration_minutes=60, price_cents=5000,
            currency="EUR", location_types=["online"], buffer_before_minutes=0,
            buffer_after_minutes=0, min_notice_minutes=0, slot_interval_minutes=60,
        )  # fmt: skip
        availability_replace(instructor=teacher, timezone="UTC",
                             rules=[(d, clock(0), clock(23)) for d in range(7)])  # fmt: skip
    now = timezone.now() + timedelta(days=1)
    slot = free_slots(service=service, range_start=now, range_end=now + timedelta(days=30))[0]
    tokens = [_token(_user(f"vs-racer{n}@bench.example", "student")) for n in range(students)]
    return service.pk, slot.start.isoformat(), tokens


def publish_hub(topic: str, texts: list[str], interval: float) -> list[float]:
    """Publish stored events as a view or task would; returns when each call began."""
    import time

    from django.db import transaction

    from hub.services import publish

    began: list[float] = []
    for i, text in enumerate(texts):
        if interval and i:
            time.sleep(max(0.0, began[0] + i * interval - time.time()))
        began.append(time.time())
        body = text.replace("{t}", f"{began[-1]:.6f}")
        with transaction.atomic():
            publish(topic=topic, event_type="bench.tick", data={"body": body})
    return began


def warm_up_publisher(topic: str) -> None:
    """Open this process's layer connection with one message no subscriber acts on."""
    from hub.fastpath import sender_loop
    from hub.services import FAST_PATH_TIMEOUT_SECONDS, send_to_processes

    sender_loop.run(send_to_processes(f"{topic}0", '{"op": "warm-up"}', None),
                    FAST_PATH_TIMEOUT_SECONDS)  # fmt: skip
