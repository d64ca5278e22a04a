"""The payment interface: the dev backend, and what production says about it."""

import pytest

from payments.backends import payment_backend
from tests.live import child_env, manage


def test_the_configured_backend_is_dev_without_a_stripe_key():
    assert payment_backend().name == "dev"


def check(*args: str, **env):
    return manage(
        "check",
        *args,
        env=child_env(**({"STRIPE_SECRET_KEY": None, "PAYMENTS_BACKEND": None} | env)),
    )


def test_production_starts_with_the_dev_backend_but_says_it_takes_no_money():
    """Migrate and every process start; the log and `check --deploy` name the dev backend."""
    env = {"DEBUG": "false", "PAYMENTS_DEV_ALLOWED": None}
    started = check(**env)
    assert started.returncode == 0, started.stderr
    assert "dev backend takes no money" in started.stderr
    deploy = check("--deploy", "--fail-level", "WARNING", **env)
    assert deploy.returncode != 0
    assert "payments.W001" in deploy.stderr + deploy.stdout


@pytest.mark.parametrize(
    "env", [{"DEBUG": "true", "PAYMENTS_DEV_ALLOWED": None}, {"PAYMENTS_DEV_ALLOWED": "true"}]
)
def test_the_dev_backend_is_quiet_in_debug_or_when_chosen_on_purpose(env):
    result = check("--deploy", **({"DEBUG": "false"} | env))
    assert result.returncode == 0, result.stderr
    assert "takes no money" not in result.stderr + result.stdout


def test_an_unknown_backend_stops_every_process():
    result = check(PAYMENTS_BACKEND="paypal")
    assert result.returncode != 0
    assert "not available" in result.stderr


def test_a_stripe_key_chooses_the_stripe_backend_and_every_process_starts():
    result = check("--deploy", DEBUG="false", STRIPE_SECRET_KEY="sk_test_configured")
    assert result.returncode == 0, result.stderr
    assert "takes no money" not in result.stderr + result.stdout


def test_the_stripe_backend_without_a_key_stops_every_process():
    result = check(PAYMENTS_BACKEND="stripe")
    assert result.returncode != 0
    assert "needs STRIPE_SECRET_KEY" in result.stderr
