"""Data exports as their owner sees them over REST: built only from the row given."""

from typing import Any

from conventions.times import iso_z
from privacy.models import DataExport

# Bumped when the archive's sections change in a way a reader must know about.
ARCHIVE_FORMAT = 1


def export_status_data(export: DataExport) -> dict[str, Any]:
    """An export not (or no longer) ready to download: what it is and where it stands."""
    return {"id": export.pk, "status": export.status}


def export_archive_data(export: DataExport) -> dict[str, Any]:
    """A ready export: when it was asked for and until when it is kept, then the archive."""
    return {
        "id": export.pk,
        "status": export.status,
        "created_at": iso_z(export.created_at),
        "ready_at": iso_z(export.ready_at) if export.ready_at else None,
        "expires_at": iso_z(export.expires_at) if export.expires_at else None,
        **(export.archive or {}),
    }
