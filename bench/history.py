"""Message history pages in a conversation of 100,000 messages and in one of 10.

Sets up (once) two bench conversations, then times `GET .../messages?before=&limit=50`
over a keep-alive connection at the newest page, the middle and the oldest page of
each. The page query is an index range scan, so the figures should match.

    bench/server.sh start; source bench/env.sh
    .venv/bin/python bench/history.py --requests 100
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import django_setup, percentile, time_gets

SIZES = (100_000, 10)


def setup() -> tuple[str, dict[int, tuple[int, list[int]]]]:
    """A reader's token and, per size, the conversation id and some `before` ids."""
    django_setup()
    from accounts.models import User
    from accounts.services import token_create, user_create
    from chat.models import Message
    from chat.services import conversation_open

    def user(email: str, role: str) -> User:
        found = User.objects.filter(email=email).first()
        return found or user_create(email=email, password=None, name=email[:12], role=role)

    student = user("history-s@bench.example", "student")
    conversations = {}
    for size in SIZES:
        teacher = user(f"history-i{size}@bench.example", "instructor")
        conversation, _ = conversation_open(user=student, participant_id=teacher.pk)
        have = Message.objects.filter(conversation=conversation).count()
        for start in range(have, size, 5000):
            Message.objects.bulk_create(
                Message(conversation=conversation, sender=teacher, body=f"message {n}",
                        client_id=f"h{n}")
                for n in range(start, min(size, start + 5000))
            )  # fmt: skip
        ids = list(
            Message.objects.filter(conversation=conversation)
            .order_by("id")
            .values_list("id", flat=True)
        )
        befores = [ids[-1] + 1, ids[len(ids) // 2], ids[min(50, len(ids) - 1)]]
        conversations[size] = (conversation.pk, befores)
    return token_create(user=student, name="bench")[1], conversations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8100")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    token, conversations = setup()
    for size, (conversation_id, befores) in conversations.items():
        paths = [
            f"/api/v1/conversations/{conversation_id}/messages?before={befores[i % len(befores)]}"
            "&limit=50"
            for i in range(args.requests + 5)
        ]
        timings, _ = time_gets(args.url, token, paths)
        print(
            f"{size:>7} messages: GET a 50-message page x{len(timings)}: "
            f"p50 {statistics.median(timings):.1f} ms, p99 {percentile(timings, 99):.1f} ms"
        )


if __name__ == "__main__":
    main()
