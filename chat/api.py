"""The chat REST router; sends go through the same service as the socket's `publish`."""

from ninja import Router, Status

from accounts.auth import AuthedRequest
from chat import selectors, services
from chat.schemas import (
    ConversationIn,
    ConversationOut,
    ConversationPage,
    MessageEditIn,
    MessageIn,
    MessageOut,
    MessagePage,
    ReadIn,
)
from chat.shapes import message_data
from conventions.pagination import Limit
from conventions.types import ObjectId

router = Router(tags=["chat"])


@router.post("/conversations", response={200: ConversationOut, 201: ConversationOut})
def conversation_open(request: AuthedRequest, payload: ConversationIn):
    """The conversation with that person: 201 when it is new, 200 when it existed."""
    conversation, created = services.conversation_open(
        user=request.auth, participant_id=payload.participant_id
    )
    data = selectors.conversation_for_viewer(
        conversation_id=conversation.pk, viewer_id=request.auth.pk
    )
    return Status(201 if created else 200, data)


@router.get("/conversations", response=ConversationPage)
def conversation_list(request: AuthedRequest, cursor: str | None = None, limit: int = Limit):
    """The caller's conversations, most recent activity first, with unread counts."""
    items, next_cursor, total = selectors.conversation_list(
        user=request.auth, cursor=cursor, limit=limit
    )
    return {"items": items, "next_cursor": next_cursor, "unread_total": total}


@router.get("/conversations/{conversation_id}", response=ConversationOut)
def conversation_get(request: AuthedRequest, conversation_id: ObjectId):
    participant = selectors.participant_get(user=request.auth, conversation_id=conversation_id)
    return selectors.conversation_for_viewer(
        conversation_id=participant.conversation_id, viewer_id=request.auth.pk
    )


@router.get("/conversations/{conversation_id}/messages", response=MessagePage)
def message_history(
    request: AuthedRequest,
    conversation_id: ObjectId,
    before: ObjectId | None = None,
    limit: int = Limit,
):
    """Newest first; pass the oldest id you hold as `before` for the page before it."""
    messages, has_more = selectors.message_history(
        user=request.auth, conversation_id=conversation_id, before=before, limit=limit
    )
    return {"items": [message_data(m) for m in messages], "has_more": has_more}


@router.post(
    "/conversations/{conversation_id}/messages", response={200: MessageOut, 201: MessageOut}
)
def message_send(request: AuthedRequest, conversation_id: ObjectId, payload: MessageIn):
    """Send; a repeated `client_id` answers 200 with the stored message and sends nothing."""
    message, created = services.message_send(
        user=request.auth,
        conversation_id=conversation_id,
        body=payload.body,
        client_id=payload.client_id,
    )
    return Status(201 if created else 200, message_data(message))


@router.patch("/conversations/{conversation_id}/messages/{message_id}", response=MessageOut)
def message_edit(
    request: AuthedRequest, conversation_id: ObjectId, message_id: ObjectId, payload: MessageEditIn
):
    message = services.message_edit(
        user=request.auth,
        conversation_id=conversation_id,
        message_id=message_id,
        body=payload.body,
    )
    return message_data(message)


@router.delete("/conversations/{conversation_id}/messages/{message_id}", response=MessageOut)
def message_delete(request: AuthedRequest, conversation_id: ObjectId, message_id: ObjectId):
    message = services.message_delete(
        user=request.auth, conversation_id=conversation_id, message_id=message_id
    )
    return message_data(message)


@router.post("/conversations/{conversation_id}/read", response={200: dict})
def read_mark(request: AuthedRequest, conversation_id: ObjectId, payload: ReadIn):
    """Move the read marker forward (never back)."""
    services.read_mark(
        user=request.auth, conversation_id=conversation_id, message_id=payload.message_id
    )
    participant = selectors.participant_get(user=request.auth, conversation_id=conversation_id)
    return {"last_read_message_id": participant.last_read_message_id}
