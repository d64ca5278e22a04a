"""`manage.py serve` in production mode from a fresh clone: a DATA_DIR that does not
exist yet is made, and daphne, the Celery worker and beat all start and keep running."""

import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from django.db import connection

from tests.live import ROOT, child_env, free_port, wait_for_http


def test_serve_starts_every_process_with_a_data_dir_that_does_not_exist(tmp_path):
    data_dir = tmp_path / "not" / "there" / "yet"
    settings = connection.settings_dict
    env = child_env(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{settings['PORT'] or 5432}/{settings['NAME']}",
        DATA_DIR=str(data_dir),
        DEBUG="false",
    )
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        serve = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        # Four processes start cold (two daphnes, the worker, beat): give a busy 2-core
        # machine (the rest of the suite runs beside this) a minute.
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, process=serve)
        # Beat writes its schedule once it runs: the positive sign it started.
        schedule = data_dir / "celerybeat-schedule"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(data_dir.glob("celerybeat-schedule*")):
            assert serve.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.2)
        assert list(data_dir.glob("celerybeat-schedule*")), log_path.read_text()[-3000:]
        time.sleep(2)  # a process that fails at start has done so by now
        assert serve.poll() is None, log_path.read_text()[-3000:]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            assert answer.status == 200
        assert schedule.parent == data_dir
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=30)
    assert serve.returncode == 0, log_path.read_text()[-3000:]


pytestmark = pytest.mark.django_db(transaction=True)


def test_serve_on_a_taken_port_says_so_and_never_claims_to_serve(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT, env=child_env(DATA_DIR=str(tmp_path)), capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
    assert result.returncode != 0
    assert f"127.0.0.1:{port} is already in use" in result.stderr
    assert "Serving on" not in result.stdout
