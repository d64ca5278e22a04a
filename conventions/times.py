"""How times are written on the wire."""

from datetime import UTC, datetime


def iso_z(moment: datetime) -> str:
    """UTC with milliseconds and a `Z`, as every time on the wire is written."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
