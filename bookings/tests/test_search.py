"""Finding an instructor over REST: words, location type, price range and a free slot on
a date, alone and together, paged by cursor, in a bounded number of queries."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from bookings import services
from tests.helpers import FORGED_CURSORS, assert_error, place_booking

pytestmark = pytest.mark.django_db

HOURS = [(day, time(9), time(17)) for day in range(7)]


@pytest.fixture
def teach(make_user):
    """An instructor with a bio, services `(name, price, location types)` and hours."""

    def make(name, bio="", offers=(), hours=HOURS, zone="UTC"):
        user = make_user("instructor", name=name)
        services.instructor_profile_update(user=user, bio=bio)
        made = [
            services.service_create(
                instructor=user,
                name=title,
                duration_minutes=60,
                price_cents=price,
                currency="eur",
                location_types=list(where),
                min_notice_minutes=0,
            )
            for title, price, where in offers
        ]
        services.availability_replace(instructor=user, timezone=zone, rules=hours)
        return user, made

    return make


@pytest.fixture
def catalogue(teach):
    """Five instructors, each findable by a different filter."""
    piano = ("Piano lessons", 6000, ["instructor_location"])
    theory = ("Music theory", 2000, ["online"])
    masterclass = ("Piano masterclass", 12000, ["student_location", "instructor_location"])
    walk = ("Photo walk", 5000, ["neutral_location"])
    return {
        "ada": teach("Ada Lovelace", "Patient maths tutor", [("Algebra", 3000, ["online"])])[0],
        "bach": teach("Johann Bach", "Organ and harmony", [piano, theory])[0],
        "clara": teach("Clara Schumann", "Concert pianist, patient with beginners", [masterclass])[
            0
        ],
        "dora": teach("Dora Maar", "Photography walks", [walk], hours=[])[0],
        # No active service: never found by a service filter.
        "emil": teach("Emil Nolde", "Painter, piano in spare time")[0],
    }


def found(client, query: str) -> list[int]:
    """Every instructor id the query finds, following the cursor to the end."""
    ids, cursor = [], None
    for _ in range(50):
        suffix = f"&cursor={cursor}" if cursor else ""
        response = client.call("get", f"/api/v1/instructors?{query}{suffix}")
        assert response.status_code == 200, response.content
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("the cursor never ran out")


def ids(catalogue, *names) -> list[int]:
    return sorted(catalogue[n].pk for n in names)


def test_every_word_must_match_the_name_the_bio_or_a_service(as_student, catalogue):
    assert found(as_student, "q=piano") == ids(catalogue, "bach", "clara", "emil")
    assert found(as_student, "q=PATIENT") == ids(catalogue, "ada", "clara")
    # Words may match in different places: "patient" in the bio, "piano" in a service.
    assert found(as_student, "q=patient+piano") == ids(catalogue, "clara")
    assert found(as_student, "q=johann+theory") == ids(catalogue, "bach")
    assert found(as_student, "q=piano+photo") == []
    assert found(as_student, "q=%20%20") == ids(catalogue, *catalogue)


def test_a_retired_service_no_longer_finds_its_instructor(as_student, catalogue):
    clara = catalogue["clara"]
    (masterclass,) = clara.instructor_profile.services.all()
    services.service_retire(instructor=clara, service_id=masterclass.pk)
    assert found(as_student, "q=masterclass") == []
    assert found(as_student, "location_type=student_location") == []


def test_location_type_and_price_range(as_student, catalogue):
    assert found(as_student, "location_type=online") == ids(catalogue, "ada", "bach")
    assert found(as_student, "location_type=instructor_location") == ids(catalogue, "bach", "clara")
    assert found(as_student, "min_price_cents=5000") == ids(catalogue, "bach", "clara", "dora")
    assert found(as_student, "max_price_cents=3000") == ids(catalogue, "ada", "bach")
    assert found(as_student, "min_price_cents=3000&max_price_cents=5000") == ids(
        catalogue, "ada", "dora"
    )
    assert found(as_student, "min_price_cents=0&max_price_cents=0") == []


def test_one_service_must_pass_the_location_and_the_price_together(as_student, catalogue):
    # Bach teaches online for 2000 and at home for 6000, but not at home for 2000.
    assert found(as_student, "location_type=instructor_location&max_price_cents=3000") == []
    assert found(as_student, "location_type=online&max_price_cents=2500") == ids(catalogue, "bach")
    assert found(as_student, "q=piano&location_type=online") == ids(catalogue, "bach")


def test_available_on_keeps_those_with_a_free_slot_that_day(make_user, as_student, catalogue):
    day = timezone.localdate() + timedelta(days=3)
    assert found(as_student, f"available_on={day}") == ids(catalogue, "ada", "bach", "clara")
    # A day off, and a day fully booked, take an instructor out for that date only.
    services.availability_override_set(instructor=catalogue["ada"], day=day, intervals=[])
    clara = catalogue["clara"]
    services.availability_override_set(instructor=clara, day=day, intervals=[(time(10), time(11))])
    (masterclass,) = clara.instructor_profile.services.all()
    place_booking(masterclass, make_user("student"), datetime.combine(day, time(10), tzinfo=UTC))
    assert found(as_student, f"available_on={day}") == ids(catalogue, "bach")
    later = day + timedelta(days=1)
    assert found(as_student, f"available_on={later}") == ids(catalogue, "ada", "bach", "clara")
    # The slot must be of a service that passes the other filters.
    assert found(as_student, f"available_on={day}&location_type=instructor_location") == ids(
        catalogue, "bach"
    )
    assert found(as_student, f"available_on={day}&q=theory&max_price_cents=2000") == ids(
        catalogue, "bach"
    )
    assert found(as_student, f"available_on={day}&location_type=neutral_location") == []


def test_available_on_is_a_date_in_the_callers_time_zone(teach, make_user, api, token_for):
    """Evening hours in UTC fall on the next morning's date in Tokyo."""
    night, _ = teach("Night Owl", offers=[("Chess", 1000, ["online"])], hours=[])
    day = timezone.localdate() + timedelta(days=3)
    services.availability_override_set(instructor=night, day=day, intervals=[(time(20), time(22))])
    in_utc = api(token_for(make_user("student", timezone="UTC")))
    in_tokyo = api(token_for(make_user("student", timezone="Asia/Tokyo")))
    after = day + timedelta(days=1)
    assert (found(in_utc, f"available_on={day}"), found(in_utc, f"available_on={after}")) == (
        [night.pk],
        [],
    )
    assert (
        found(in_tokyo, f"available_on={day}"),
        found(in_tokyo, f"available_on={after}"),
    ) == ([], [night.pk])


def test_filtered_results_are_paged_by_cursor(teach, as_student):
    cheap = [teach(f"Cheap {n}", offers=[("Lesson", 1000, ["online"])])[0].pk for n in range(5)]
    for n in range(3):
        teach(f"Dear {n}", offers=[("Lesson", 9000, ["online"])])
    client = as_student
    first = client.call("get", "/api/v1/instructors?max_price_cents=1000&limit=2").json()
    assert [i["id"] for i in first["items"]] == cheap[:2] and first["next_cursor"]
    assert found(client, "max_price_cents=1000&limit=2") == cheap
    assert found(client, "max_price_cents=1000&limit=3") == cheap
    # With a date, a page may come up short while the cursor goes on; nothing is lost.
    day = timezone.localdate() + timedelta(days=2)
    for user in User.objects.filter(pk__in=cheap[1:3]):
        services.availability_override_set(instructor=user, day=day, intervals=[])
    wanted = [cheap[0], *cheap[3:]]
    short = client.call("get", f"/api/v1/instructors?available_on={day}&limit=3").json()
    assert [i["id"] for i in short["items"]] == [cheap[0]] and short["next_cursor"]
    assert found(client, f"available_on={day}&max_price_cents=1000&limit=2") == wanted
    assert found(client, f"available_on={day}&max_price_cents=1000&limit=1") == wanted


@pytest.mark.parametrize(
    "query, field",
    [
        ("location_type=moon", "location_type"),
        ("min_price_cents=-1", "min_price_cents"),
        ("max_price_cents=abc", "max_price_cents"),
        ("min_price_cents=500&max_price_cents=100", "min_price_cents"),
        ("available_on=2026-02-30", "available_on"),
        ("available_on=tomorrow", "available_on"),
        ("available_on=1900-01-01", "available_on"),
        ("q=" + "x" * 101, "q"),
        ("q=" + "+".join("abcdefghi"), "q"),
        ("limit=0", "limit"),
    ],
)
def test_bad_filters_are_422_with_details(as_student, query, field):
    error = assert_error(as_student.call("get", f"/api/v1/instructors?{query}"), 422, "invalid")
    assert field in str(error["details"]), error


def test_forged_cursors_are_422_with_filters_too(as_student, catalogue):
    day = timezone.localdate() + timedelta(days=3)
    for cursor in [c for c in FORGED_CURSORS if c]:
        response = as_student.call(
            "get", f"/api/v1/instructors?q=piano&available_on={day}&cursor={cursor}"
        )
        error = assert_error(response, 422, "invalid")
        assert "cursor" in error["details"]


def test_the_queries_are_bounded_by_the_page_not_the_catalogue(
    teach, as_student, django_assert_max_num_queries
):
    day = timezone.localdate() + timedelta(days=3)
    for n in range(12):
        offers = [("Lesson", 1000 + n, ["online"]), ("Extra", 99, ["online"])]
        teach(f"Tutor {n}", "patient", offers)
    query = "/api/v1/instructors?q=patient&location_type=online&max_price_cents=5000&limit=3"
    # Auth, the page and its prefetches, and three queries per slot check of one service.
    with django_assert_max_num_queries(20):
        plain = as_student.call("get", query)
    assert len(plain.json()["items"]) == 3
    with django_assert_max_num_queries(20):
        dated = as_student.call("get", f"{query}&available_on={day}")
    assert len(dated.json()["items"]) == 3 and dated.json()["next_cursor"]
