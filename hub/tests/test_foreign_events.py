"""A fast-path message that is not this deployment's, or not this topic log's, is never
delivered and never moves the process's delivered mark: two deployments that share a
Redis server cannot show each other's events or make each other drop their own."""

import orjson
import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from hub.services import publish
from hub.topics import group_name

pytestmark = pytest.mark.django_db(transaction=True)


def forged(topic: str, seq: int, *, epoch: str | None, origin: str) -> dict:
    frame = {"op": "event", "topic": topic, "seq": seq, "type": "said", "data": {"text": "X"}}
    return {
        "type": "hub.event",
        "topic": topic,
        "seq": seq,
        "epoch": epoch,
        "origin": origin,
        "frame": orjson.dumps(frame).decode(),
    }


async def test_foreign_messages_are_dropped_and_own_events_still_arrive(ws_user, connect):
    _, token = await ws_user()
    client = await connect(token)
    reply = await client.call("subscribe", topic="feed:77")
    epoch = reply["data"]["epoch"]
    layer = get_channel_layer()
    group = group_name("feed:77")

    # Another deployment (its own origin), with a higher seq than ours.
    await layer.group_send(group, forged("feed:77", 40, epoch=epoch, origin="elsewhere"))
    # Our origin but another log (another epoch): a deployment sharing our database name.
    mine = settings.HUB_DEPLOYMENT_ID
    await layer.group_send(group, forged("feed:77", 41, epoch="other-epoch", origin=mine))
    assert await client.nothing(timeout=0.5)

    # Our own next event, seq 1, still arrives: the foreign seqs moved no mark.
    await database_sync_to_async(publish)(topic="feed:77", event_type="said", data={"text": "A"})
    (event,) = await client.events(1)
    assert (event["seq"], event["data"]) == (1, {"text": "A"})
    # And a message like ours in every way is delivered (the check lets ours through).
    await layer.group_send(group, forged("feed:77", 2, epoch=epoch, origin=mine))
    (event,) = await client.events(1)
    assert (event["seq"], event["data"]) == (2, {"text": "X"})
