"""An instructor (the root conftest's) with a service and weekly hours."""

import pytest

from tests.helpers import lesson_service


@pytest.fixture
def service(instructor):
    """A one-hour lesson, no notice, every day 09:00-17:00 Berlin time."""
    return lesson_service(instructor)
