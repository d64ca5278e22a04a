"""Payout onboarding: one connected account per instructor, its link, and its readiness.

The backends below stand in for the external provider behind the payments interface
(counting the accounts it opens, or not answering); everything of ours runs for real.
"""

import threading

import pytest

from payments import backends, services
from payments.backends import DevBackend, PaymentError, ProviderAccount
from payments.models import PayoutAccount
from tests.helpers import assert_error, race

ONBOARDING = "/api/v1/instructors/me/payouts/onboarding"
opened: list[str] = []
opened_lock = threading.Lock()
ready_accounts: set[str] = set()


class CountingBackend(DevBackend):
    """Opens accounts slowly (so concurrent requests overlap) and counts them; an account
    is ready only once listed in `ready_accounts`."""

    name = "counting"

    def payout_account_create(self, *, user) -> str:
        threading.Event().wait(0.2)
        account_id = super().payout_account_create(user=user)
        with opened_lock:
            opened.append(account_id)
        return account_id

    def payout_onboarding_link(self, *, account_id: str, return_url: str) -> str:
        return f"https://connect.example/setup/{account_id}?return={return_url}"

    def payout_account_retrieve(self, *, account_id: str) -> ProviderAccount:
        ready = account_id in ready_accounts
        return ProviderAccount(account_id, ready, ready, ready)


class AwayBackend(DevBackend):
    name = "away"

    def payout_account_create(self, *, user) -> str:
        raise PaymentError("connection refused")

    def payout_account_retrieve(self, *, account_id: str) -> ProviderAccount:
        raise PaymentError("connection refused")


@pytest.fixture
def provider(settings, monkeypatch):
    opened.clear()
    ready_accounts.clear()

    def use(backend_class):
        monkeypatch.setitem(
            backends.BACKENDS, backend_class.name, f"{__name__}.{backend_class.__name__}"
        )
        settings.PAYMENTS_BACKEND = backend_class.name
        backends.payment_backend.cache_clear()

    use(CountingBackend)
    yield use
    backends.payment_backend.cache_clear()


@pytest.mark.django_db
def test_onboarding_opens_one_account_and_links_back_to_the_site(
    provider, as_instructor, instructor
):
    first = as_instructor.call("post", ONBOARDING)
    assert first.status_code == 200, first.content
    account = PayoutAccount.objects.get(user=instructor)
    assert first.json() == {
        "url": f"https://connect.example/setup/{account.account_id}?return=http://testserver/"
    }
    again = as_instructor.call("post", ONBOARDING)
    assert again.json() == first.json()
    assert opened == [account.account_id]


@pytest.mark.django_db
def test_the_return_address_is_a_setting(provider, as_instructor, settings):
    settings.PAYOUTS_RETURN_URL = "https://lessons.example/payouts/done"
    url = as_instructor.call("post", ONBOARDING).json()["url"]
    assert url.endswith("?return=https://lessons.example/payouts/done")


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["student", "admin"])
def test_only_instructors_onboard(provider, api, token_for, make_user, role):
    answer = api(token_for(make_user(role))).call("post", ONBOARDING)
    assert_error(answer, 403, "forbidden")
    assert not PayoutAccount.objects.exists() and opened == []


@pytest.mark.django_db
def test_a_provider_that_does_not_answer_is_503_and_stores_nothing(provider, as_instructor):
    provider(AwayBackend)
    answer = as_instructor.call("post", ONBOARDING)
    assert_error(answer, 503, "unavailable")
    assert answer["Retry-After"] == "5"
    assert not PayoutAccount.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_onboarding_opens_one_account(provider, api, token_for, instructor):
    clients = [api(token_for(instructor)) for _ in range(4)]
    answers = race([lambda c=c: c.call("post", ONBOARDING) for c in clients])
    assert [a.status_code for a in answers] == [200] * 4
    assert len({a.json()["url"] for a in answers}) == 1
    assert PayoutAccount.objects.filter(user=instructor).count() == 1
    assert len(opened) == 1


@pytest.mark.django_db
def test_refresh_keeps_readiness_in_step_and_the_profile_shows_it(
    provider, as_instructor, instructor, as_student
):
    as_instructor.call("post", ONBOARDING)
    account = PayoutAccount.objects.get(user=instructor)
    profile = f"/api/v1/instructors/{instructor.pk}"
    assert as_student.call("get", profile).json()["payouts_ready"] is False
    assert services.payout_account_refresh(account_id=account.account_id).ready is False
    ready_accounts.add(account.account_id)
    refreshed = services.payout_account_refresh(account_id=account.account_id)
    assert refreshed.ready and refreshed.details_submitted
    assert as_student.call("get", profile).json()["payouts_ready"] is True
    listed = as_student.call("get", "/api/v1/instructors").json()["items"]
    assert [i["payouts_ready"] for i in listed if i["id"] == instructor.pk] == [True]
    assert as_instructor.call("get", "/api/v1/instructors/me").json()["payouts_ready"] is True


@pytest.mark.django_db
def test_refresh_of_an_unknown_account_is_none_and_a_silent_provider_raises(
    provider, as_instructor
):
    assert services.payout_account_refresh(account_id="acct_not_ours") is None
    as_instructor.call("post", ONBOARDING)
    provider(AwayBackend)
    with pytest.raises(PaymentError):  # the webhook's processing retries later
        services.payout_account_refresh(account_id=PayoutAccount.objects.get().account_id)


@pytest.mark.django_db
def test_the_instructor_list_reads_readiness_without_a_query_per_instructor(
    provider, api, token_for, make_user, as_student
):
    def listing_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert as_student.call("get", "/api/v1/instructors").status_code == 200
        return len(captured)

    for _ in range(2):
        api(token_for(make_user("instructor"))).call("post", ONBOARDING)
    listing_queries()  # the first use of the token also records it
    few = listing_queries()
    for _ in range(5):
        api(token_for(make_user("instructor"))).call("post", ONBOARDING)
    assert listing_queries() == few
    assert PayoutAccount.objects.count() == 7


@pytest.mark.django_db
def test_each_instructor_gets_only_their_own_account(
    provider, api, token_for, make_user, as_student
):
    first, second = make_user("instructor"), make_user("instructor")
    urls = {u.pk: api(token_for(u)).call("post", ONBOARDING).json()["url"] for u in (first, second)}
    for user in (first, second):
        mine = PayoutAccount.objects.get(user=user).account_id
        others = PayoutAccount.objects.exclude(user=user).get().account_id
        assert mine in urls[user.pk] and others not in urls[user.pk]
        profile = as_student.call("get", f"/api/v1/instructors/{user.pk}").content.decode()
        assert mine not in profile and "account" not in profile
