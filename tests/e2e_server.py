"""daphne with a test topic family plugged in, for end-to-end hub tests.

`room:{id}` (ids below 1000) may be used by any user; publishing `say` appends a
durable `said` event. It stands in for a domain app until one is started here.
"""

import sys

from daphne.cli import CommandLineInterface

from hub import topics


def say(*, user, object_id, data, topic):
    from hub.services import publish

    return {
        "seq": publish(
            topic=topic, event_type="said", data={"by": user.pk, "text": data.get("text")}
        )
    }


topics.register_family(
    topics.TopicFamily(
        name="room", authorize=lambda user, object_id: object_id < 1000, handlers={"say": say}
    )
)

if __name__ == "__main__":
    sys.argv = ["daphne", *sys.argv[1:]]
    CommandLineInterface.entrypoint()
