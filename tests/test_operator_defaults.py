"""Safe defaults for operators: debug pages stay on this machine, the published demo
password never reaches a network, HTTPS is believed only from a proxy we run, HSTS
preload only when asked, and every HTML page carries a Content-Security-Policy."""

import socket
import subprocess
import sys

import pytest
from django.core.management import call_command

from accounts.models import User
from config.management.commands.demo_data import DEMO_PASSWORD
from config.network import is_loopback
from tests.live import ROOT, child_env, manage

EMBEDDED = {name: None for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG")}


@pytest.mark.parametrize(
    "host, loopback",
    [("127.0.0.1", True), ("127.0.0.2", True), ("localhost", True), ("::1", True),
     ("[::1]", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
     ("hub.example.com", False)],
)  # fmt: skip
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def serve(tmp_path, port: int, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "serve", "--no-worker", "--port", str(port)],
        cwd=ROOT, env=child_env(**(EMBEDDED | {"DATA_DIR": str(tmp_path)} | env)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_embedded_mode_refuses_to_serve_debug_pages_to_a_network(tmp_path):
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        refused = serve(tmp_path, port, HOST="0.0.0.0")
        assert refused.returncode != 0
        assert "Refusing to serve debug pages on 0.0.0.0" in refused.stderr
        # Said on purpose, it goes on, to the next check (the port is held here).
        chosen = serve(tmp_path, port, HOST="0.0.0.0", DEBUG="true")
    assert "Refusing to serve debug pages" not in chosen.stderr
    assert "already in use" in chosen.stderr


@pytest.mark.django_db
def test_demo_accounts_get_a_random_password_off_loopback(settings, capsys):
    settings.HOST = "127.0.0.1"
    call_command("demo_data")
    assert DEMO_PASSWORD in capsys.readouterr().out
    teacher = User.objects.get(email="instructor@example.com")
    assert teacher.check_password(DEMO_PASSWORD)

    settings.HOST = "0.0.0.0"
    call_command("demo_data")
    out = capsys.readouterr().out
    assert DEMO_PASSWORD not in out
    teacher.refresh_from_db()
    assert not teacher.check_password(DEMO_PASSWORD)
    printed = out.split("instructor@example.com  password ")[1].split()[0]
    assert teacher.check_password(printed)

    call_command("demo_data")  # run again: nothing to change, nothing to show
    assert "(unchanged)" in capsys.readouterr().out
    teacher.refresh_from_db()
    assert teacher.check_password(printed)


PROBE = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None), s.SECURE_HSTS_PRELOAD)"
)


@pytest.mark.parametrize(
    "env, expected",
    [({}, "None False"),
     ({"BEHIND_PROXY": "true"}, "('HTTP_X_FORWARDED_PROTO', 'https') False"),
     ({"SECURE_HSTS_PRELOAD": "true"}, "None True")],
)  # fmt: skip
def test_https_is_believed_only_behind_a_proxy_and_preload_only_when_asked(env, expected):
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=child_env(**({"DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "false",
                          "BEHIND_PROXY": None, "SECURE_HSTS_PRELOAD": None} | env)),
    )  # fmt: skip
    assert result.stdout.strip() == expected, result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/api/v1/docs", "/admin/login/"])
def test_html_pages_carry_a_content_security_policy(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_json_answers_need_no_policy(client):
    assert "Content-Security-Policy" not in client.get("/healthz")


def test_check_deploy_still_clean():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=child_env(
        DEBUG="false", ALLOWED_HOSTS="hub.example.com", SECURE_SSL_REDIRECT=None,
        SECRET_KEY="a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    ))  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
