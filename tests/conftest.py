"""Live servers that a module's tests share."""

import pytest
from django.core.management import call_command

from tests.live import Servers


@pytest.fixture(scope="module")
def live_servers(django_db_setup, django_db_blocker):
    """Servers started once for the module (tests.live.Servers), stopped when it is done.

    A running server writes on its own (its connection registry), also after the last
    test's clean-up: the database is emptied again once the servers are stopped, so no
    test of another module meets those rows. (make test distributes whole files to the
    xdist workers, --dist loadfile, so a module starts its servers once.)
    """
    servers = Servers()
    try:
        yield servers
    finally:
        servers.stop()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0)
