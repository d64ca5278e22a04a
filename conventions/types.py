"""Input types shared by every app's schemas."""

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

# Shared input types: values a database column or datetime arithmetic can hold, so an
# absurd id or year is a 422 instead of an overflow deep inside a query.
MAX_ID = 2**63 - 1
EARLIEST = date(1970, 1, 1)
LATEST = date(2200, 12, 31)


def _date_in_range(value: date) -> date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"a date between {EARLIEST} and {LATEST}")
    return value


def _moment_in_range(value: datetime) -> datetime:
    _date_in_range(value.date())  # the local date first: converting year 1 to UTC overflows
    _date_in_range(value.astimezone(UTC).date())
    return value


ObjectId = Annotated[int, Field(ge=1, le=MAX_ID)]
BoundedDate = Annotated[date, AfterValidator(_date_in_range)]
BoundedMoment = Annotated[AwareDatetime, AfterValidator(_moment_in_range)]
