"""The privacy REST router: a person's own data exports, and closing their account."""

from typing import Any

from django.conf import settings
from ninja import Router, Status

from accounts.api import client_address
from accounts.auth import AuthedRequest
from conventions.types import ObjectId
from privacy import selectors, services
from privacy.schemas import ErasedOut, EraseIn, ExportStatusOut

router = Router(tags=["privacy"])


@router.post("/me/export", response={202: ExportStatusOut})
def export_request(request: AuthedRequest):
    """Start building an archive of everything we hold about the caller; while one is
    being built, that one is the answer. A notification (and e-mail) says when it is ready."""
    export, _ = services.export_request(
        user=request.auth, expires_in_hours=settings.PRIVACY_EXPORT_RETENTION_HOURS
    )
    return Status(202, {"id": export.pk, "status": export.status})


@router.get("/me/exports/{export_id}", response=dict[str, Any])
def export_get(request: AuthedRequest, export_id: ObjectId):
    """The archive when ready, `{"id","status"}` until then; 410 once it has expired."""
    return selectors.export_answer(user=request.auth, export_id=export_id)


@router.post("/me/erase", response={202: ErasedOut})
def account_erase(request: AuthedRequest, payload: EraseIn):
    """Erase the caller's account (their password confirms it); done when this answers."""
    services.account_erase(
        user=request.auth, password=payload.password, client_address=client_address(request)
    )
    return Status(202, {"status": "erased"})
