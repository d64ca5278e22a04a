"""Both modes come from the environment alone; each is checked in a fresh process."""

import json
import subprocess
import sys

import pytest

from tests.live import ROOT, child_env, manage

PROBE = """
import json, django
django.setup()
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "options": db.get("OPTIONS", {}),
    "health": db.get("CONN_HEALTH_CHECKS"), "layer": s.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_hosts": s.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts"),
    "broker": s.CELERY_BROKER_URL, "debug": s.DEBUG, "secret": s.SECRET_KEY,
    "hosts": s.ALLOWED_HOSTS, "payments": s.PAYMENTS_BACKEND,
}))
"""

PRODUCTION = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/hub",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
    "DEBUG": None,
    "ALLOWED_HOSTS": "hub.example.com",
    "SECURE_SSL_REDIRECT": None,
}
EMBEDDED = {key: None for key in PRODUCTION}


def probe(**env) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=child_env(DJANGO_SETTINGS_MODULE="config.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_embedded_mode_needs_no_environment(tmp_path):
    found = probe(**EMBEDDED, DATA_DIR=str(tmp_path))
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["name"] == str(tmp_path / "db.sqlite3")
    assert found["options"]["transaction_mode"] == "IMMEDIATE"
    assert found["layer"] == "channels.layers.InMemoryChannelLayer"
    assert found["broker"] == "filesystem://"
    assert found["debug"] is True
    assert found["payments"] == "dev"
    key_file = tmp_path / "secret_key"
    assert found["secret"] == key_file.read_text().strip()
    assert len(found["secret"]) >= 50
    assert oct(key_file.stat().st_mode)[-3:] == "600"
    # The key is kept: a second start reads the same one.
    assert probe(**EMBEDDED, DATA_DIR=str(tmp_path))["secret"] == found["secret"]


def test_production_mode_from_urls():
    found = probe(**PRODUCTION)
    assert found["engine"] == "django.db.backends.postgresql"
    assert found["name"] == "hub"
    assert found["health"] is True
    assert found["layer"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    host = found["layer_hosts"][0]
    assert host["address"] == PRODUCTION["REDIS_URL"]
    assert host["max_connections"] >= 1000
    assert host["socket_timeout"] > 5
    assert found["broker"] == PRODUCTION["REDIS_URL"]
    assert found["debug"] is False
    assert found["hosts"] == ["hub.example.com"]


def test_sqlite_url_keeps_immediate_transactions(tmp_path):
    found = probe(**{**EMBEDDED, "DATABASE_URL": f"sqlite:///{tmp_path}/o.sqlite3", "DEBUG": "1"})
    assert found["engine"] == "django.db.backends.sqlite3"
    assert found["options"]["transaction_mode"] == "IMMEDIATE"


def test_production_refuses_to_start_without_secret_key():
    result = manage("check", env=child_env(**{**PRODUCTION, "SECRET_KEY": None}))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_unclear_debug_value_is_a_configuration_error():
    result = manage("check", env=child_env(**{**PRODUCTION, "DEBUG": "maybe"}))
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=child_env(**PRODUCTION))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("value", ["1", "true", "YES", "on"])
def test_debug_accepts_common_spellings(value):
    assert probe(**{**PRODUCTION, "DEBUG": value})["debug"] is True
