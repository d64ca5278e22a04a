"""python-socketio's chat: AsyncServer with AsyncRedisManager, served by uvicorn.

    REDIS_URL=redis://127.0.0.1:6379/8 uvicorn bench.peers.socketio_chat:app --port 8212

A member joins a room, and what it sends goes to every member of the room (itself too).
"""

import os

import socketio

# Redis pub/sub ignores the database number: a channel of our own keeps other runs out.
manager = socketio.AsyncRedisManager(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/8"), channel="bench-versus-socketio"
)
sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
app = socketio.ASGIApp(sio)


@sio.event
async def join(sid, room):
    await sio.enter_room(sid, room)
    return True


@sio.event
async def send(sid, data):
    await sio.emit("message", data, room=data["room"])
