"""`make bench-smoke` end to end: every scenario against the hub and both peers, tiny sizes.

Marked `bench`, so `make test` leaves it out (pyproject's addopts say `-m 'not bench'`); run
it with `pytest -m bench tests/test_bench_smoke.py` once the bench extra is installed
(`make bench-install`). It starts servers on 127.0.0.1:8201-8212, so not beside `make bench`.
"""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.bench
ROOT = Path(__file__).resolve().parent.parent


def test_every_scenario_runs_against_every_server(tmp_path):
    pytest.importorskip("socketio", reason="the bench extra: make bench-install")
    database = urlsplit(os.environ["DATABASE_URL"]).path.strip("/")
    env = {
        "PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"),
        "VERSUS_DATABASE": database, "VERSUS_REDIS_URL": os.environ["REDIS_URL"],
        "PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "bench.versus", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    (result_file,) = tmp_path.glob("versus-*.json")
    result = json.loads(result_file.read_text())
    assert not [row for row in result["rows"] if "error" in row]
    seen = {(row["scenario"], row["target"]) for row in result["rows"]}
    for target in ("hub", "channels", "socketio"):
        for scenario in ("idle connections", "connect rate", "fan-out back-to-back",
                         "chat, one instructor", "chat, one instructor each"):  # fmt: skip
            assert (scenario, target) in seen
    race = next(row for row in result["rows"] if row["scenario"] == "booking race")
    assert race["winners"] == 1
    storm = next(row for row in result["rows"] if row["scenario"] == "reconnect storm")
    assert storm["finished"]
    fan = [row for row in result["rows"] if row["scenario"] == "fan-out back-to-back"]
    assert all(row["lost"] == 0 for row in fan)
    assert len(list(tmp_path.glob("versus-*.png"))) == 1
