"""Schedules API: who is on call, schedules, rotations, overrides and shifts; bad input is a 4xx, never a 500."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from conftest import token_client
from oncall.models import Override, Rotation, Schedule
from oncall.tests.schedule_helpers import lead_of, make_override, make_rotation, make_schedule
from tests.factories import UserFactory


def utc(*args):
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def lead(team):
    return lead_of(team)


@pytest.fixture
def lead_api(lead):
    return token_client(lead)


@pytest.fixture
def schedule(team):
    schedule = make_schedule(team, time_zone="Europe/London")
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    make_rotation(
        schedule, [ann, ben], time_zone="Europe/London", start_date=date(2026, 3, 23), handoff_time=time(9)
    )
    return schedule


@pytest.mark.django_db
def test_team_oncall_at_an_instant(member_api, team, schedule):
    r = member_api.get("/api/v1/teams/payments/oncall/", {"at": "2026-03-30T07:59:00Z"})
    assert r.status_code == 200
    (entry,) = r.json()["schedules"]
    assert entry["schedule"]["name"] == "Primary"
    assert entry["on_call"]["user"]["username"] == "ann"
    assert entry["on_call"]["start"] == "2026-03-23T09:00:00Z"
    assert entry["on_call"]["end"] == "2026-03-30T08:00:00Z"  # 09:00 BST: the week was 167 hours
    assert entry["on_call"]["layer"] == 1 and entry["on_call"]["override"] is False
    assert entry["next"]["user"]["username"] == "ben"
    r = member_api.get("/api/v1/teams/payments/oncall/", {"at": "2026-03-30T08:00:00+00:00"})
    assert r.json()["schedules"][0]["on_call"]["user"]["username"] == "ben"


@pytest.mark.django_db
def test_team_oncall_shows_overrides_and_gaps(member_api, team, schedule):
    make_override(schedule, UserFactory(username="cover"), utc(2026, 4, 1), utc(2026, 4, 2))
    body = member_api.get("/api/v1/teams/payments/oncall/?at=2026-04-01T12:00:00Z").json()
    assert body["schedules"][0]["on_call"]["user"]["username"] == "cover"
    assert body["schedules"][0]["on_call"]["override"] is True
    body = member_api.get("/api/v1/teams/payments/oncall/?at=2026-01-01T00:00:00Z").json()
    assert body["schedules"][0]["on_call"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "at", ["yesterday", "2026-13-01T00:00:00Z", "9999-12-31T23:59:59Z", "x" * 500, "2026-01-01T25:00"]
)
def test_team_oncall_bad_at_is_400(member_api, team, at):
    r = member_api.get("/api/v1/teams/payments/oncall/", {"at": at})
    assert r.status_code == 400
    assert "at" in r.json()["errors"]


@pytest.mark.django_db
def test_team_oncall_unknown_team_404_and_anonymous_401(member_api, api_client, team):
    assert member_api.get("/api/v1/teams/nope/oncall/").status_code == 404
    assert api_client.get("/api/v1/teams/payments/oncall/").status_code == 401


@pytest.mark.django_db
def test_schedule_crud(lead_api, member_api, team):
    r = lead_api.post(
        "/api/v1/schedules/",
        {"team": "payments", "name": "Primary", "time_zone": "America/New_York"},
        format="json",
    )
    assert r.status_code == 201, r.json()
    sid = r.json()["id"]
    assert r.json()["ical_url"].endswith(".ics")
    assert member_api.get(f"/api/v1/schedules/{sid}/").json()["time_zone"] == "America/New_York"
    assert member_api.patch(f"/api/v1/schedules/{sid}/", {"name": "X"}, format="json").status_code == 403
    r = lead_api.patch(f"/api/v1/schedules/{sid}/", {"name": "Secondary"}, format="json")
    assert r.status_code == 200 and r.json()["slug"] == "secondary"
    assert lead_api.get("/api/v1/schedules/?team=payments").json()["results"][0]["id"] == sid
    assert lead_api.delete(f"/api/v1/schedules/{sid}/").status_code == 204
    assert not Schedule.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"team": "payments", "name": "P", "time_zone": "Nowhere/Land"}, "time_zone"),
        ({"team": "nope", "name": "P"}, "team"),
        ({"team": "payments"}, "name"),
        ({"team": "payments", "name": "P", "colour": "red"}, "colour"),
    ],
)
def test_schedule_create_bad_input(lead_api, team, body, field):
    r = lead_api.post("/api/v1/schedules/", body, format="json")
    assert r.status_code == 400
    assert field in r.json()["errors"]


@pytest.mark.django_db
def test_rotation_crud_with_members_by_username_or_id(lead_api, member_api, team):
    schedule = make_schedule(team)
    ann, ben = UserFactory(username="ann"), UserFactory(username="ben")
    body = {
        "name": "Business hours",
        "layer": 2,
        "time_zone": "Australia/Sydney",
        "start_date": "2026-04-01",
        "handoff_time": "09:00",
        "period": "daily",
        "members": ["ann", str(ben.pk)],
        "restrictions": [{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}],
    }
    assert (
        member_api.post(f"/api/v1/schedules/{schedule.pk}/rotations/", body, format="json").status_code == 403
    )
    r = lead_api.post(f"/api/v1/schedules/{schedule.pk}/rotations/", body, format="json")
    assert r.status_code == 201, r.json()
    rid = r.json()["id"]
    assert [m["username"] for m in r.json()["members"]] == ["ann", "ben"]
    r = lead_api.patch(
        f"/api/v1/schedules/{schedule.pk}/rotations/{rid}/", {"members": ["ben"], "layer": 3}, format="json"
    )
    assert (
        r.status_code == 200
        and r.json()["layer"] == 3
        and [m["username"] for m in r.json()["members"]] == ["ben"]
    )
    assert r.json()["period"] == "daily"  # untouched fields keep their value
    assert lead_api.get(f"/api/v1/schedules/{schedule.pk}/rotations/").json()[0]["id"] == rid
    assert lead_api.delete(f"/api/v1/schedules/{schedule.pk}/rotations/{rid}/").status_code == 204
    assert not Rotation.objects.exists()
    assert ann.is_active


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, field",
    [
        ({"members": ["nobody"]}, "members"),
        ({"members": []}, "members"),
        ({"period": "custom"}, "period_hours"),
        ({"time_zone": "UTC+5"}, "time_zone"),
        ({"restrictions": [{"days": [1], "start": "9am", "end": "17:00"}]}, "restrictions"),
        ({"handoff_time": "25:00"}, "handoff_time"),
        ({"start_date": "2026-02-30"}, "start_date"),
        ({"ends_on": "2026-03-01"}, "ends_on"),
        ({"layer": 1000}, "layer"),
        ({"start_date": "9999-12-31"}, "start_date"),
        ({"start_date": "0001-01-01"}, "start_date"),
        ({"ends_on": "9999-12-31"}, "ends_on"),
    ],
)
def test_rotation_bad_input_is_400_by_field(lead_api, team, change, field):
    schedule = make_schedule(team)
    UserFactory(username="ann")
    body = {"name": "R", "start_date": "2026-04-01", "handoff_time": "09:00", "members": ["ann"], **change}
    r = lead_api.post(f"/api/v1/schedules/{schedule.pk}/rotations/", body, format="json")
    assert r.status_code == 400, r.json()
    assert field in r.json()["errors"]


@pytest.mark.django_db
def test_override_crud(lead_api, team, schedule):
    url = f"/api/v1/schedules/{schedule.pk}/overrides/"
    UserFactory(username="cover")
    r = lead_api.post(
        url,
        {
            "user": "cover",
            "starts_at": "2026-04-01T00:00:00Z",
            "ends_at": "2026-04-02T00:00:00Z",
            "note": "swap",
        },
        format="json",
    )
    assert r.status_code == 201, r.json()
    oid = r.json()["id"]
    assert r.json()["created_by"]["username"] == "lena"
    assert lead_api.get(url, {"start": "2026-03-01T00:00:00Z"}).json()[0]["id"] == oid
    r = lead_api.patch(f"{url}{oid}/", {"ends_at": "2026-04-03T00:00:00Z"}, format="json")
    assert r.status_code == 200 and r.json()["ends_at"] == "2026-04-03T00:00:00Z"
    r = lead_api.patch(f"{url}{oid}/", {"ends_at": "2026-03-01T00:00:00Z"}, format="json")
    assert r.status_code == 400 and "ends_at" in r.json()["errors"]
    assert lead_api.delete(f"{url}{oid}/").status_code == 204
    assert not Override.objects.exists()


@pytest.mark.django_db
def test_shifts_window(member_api, team, schedule):
    make_override(schedule, UserFactory(username="cover"), utc(2026, 3, 25), utc(2026, 3, 26))
    r = member_api.get(
        f"/api/v1/schedules/{schedule.pk}/shifts/",
        {"start": "2026-03-20T00:00:00Z", "end": "2026-04-06T09:00:00Z"},
    )
    assert r.status_code == 200
    body = r.json()
    assert [(s["user"]["username"], s["start"], s["end"]) for s in body["shifts"]] == [
        ("ann", "2026-03-23T09:00:00Z", "2026-03-25T00:00:00Z"),
        ("cover", "2026-03-25T00:00:00Z", "2026-03-26T00:00:00Z"),
        ("ann", "2026-03-26T00:00:00Z", "2026-03-30T08:00:00Z"),
        ("ben", "2026-03-30T08:00:00Z", "2026-04-06T08:00:00Z"),
        ("ann", "2026-04-06T08:00:00Z", "2026-04-06T09:00:00Z"),
    ]
    assert body["gaps"] == [{"start": "2026-03-20T00:00:00Z", "end": "2026-03-23T09:00:00Z"}]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params, field",
    [
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-12-01T00:00:00Z"}, "end"),
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
        ({"start": "soon"}, "start"),
        ({"start": "0001-01-01T00:00:00Z"}, "start"),
    ],
)
def test_shifts_bad_window_is_400(member_api, team, schedule, params, field):
    r = member_api.get(f"/api/v1/schedules/{schedule.pk}/shifts/", params)
    assert r.status_code == 400
    assert field in r.json()["errors"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/schedules/999/",
        "/api/v1/schedules/abc/",
        "/api/v1/schedules/99999999999999999999999/",
        "/api/v1/schedules/-1/shifts/",
        "/api/v1/schedules/{sid}/rotations/999/",
        "/api/v1/schedules/{sid}/overrides/x/",
    ],
)
def test_unknown_objects_are_404(member_api, schedule, path):
    assert member_api.get(path.format(sid=schedule.pk)).status_code == 404


@pytest.mark.django_db
def test_oncall_endpoint_query_count_does_not_grow_with_schedules(
    member_api, team, django_assert_max_num_queries
):
    for i in range(6):
        s = make_schedule(team, name=f"S{i}")
        make_rotation(s, [UserFactory(username=f"p{i}"), UserFactory(username=f"q{i}")])
        make_override(s, UserFactory(username=f"o{i}"), utc(2026, 6, 1), utc(2026, 6, 2))
    with django_assert_max_num_queries(8):
        r = member_api.get("/api/v1/teams/payments/oncall/?at=2026-06-01T12:00:00Z")
    assert len(r.json()["schedules"]) == 6


@pytest.mark.django_db
@pytest.mark.parametrize(
    "starts_at, ends_at, field",
    [
        ("9999-12-30T00:00:00Z", "9999-12-31T00:00:00Z", "starts_at"),
        ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z", "starts_at"),
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", "ends_at"),
    ],
)
def test_override_out_of_range_is_400(lead_api, schedule, starts_at, ends_at, field):
    UserFactory(username="cover")
    r = lead_api.post(
        f"/api/v1/schedules/{schedule.pk}/overrides/",
        {"user": "cover", "starts_at": starts_at, "ends_at": ends_at},
        format="json",
    )
    assert r.status_code == 400
    assert field in r.json()["errors"]


@pytest.mark.django_db
def test_reset_feed_gives_a_new_url_for_editors_only(lead_api, member_api, schedule):
    url = f"/api/v1/schedules/{schedule.pk}/reset-feed/"
    old = schedule.ical_token
    assert member_api.post(url, {"confirm": True}, format="json").status_code == 403
    assert lead_api.post(url, {}, format="json").status_code == 400
    assert lead_api.post(url, {"confirm": False}, format="json").status_code == 400
    r = lead_api.post(url, {"confirm": True}, format="json")
    assert r.status_code == 200
    schedule.refresh_from_db()
    assert schedule.ical_token != old and r.json()["ical_url"].endswith(f"/{schedule.ical_token}.ics")


# --- Who is given a schedule's secret feed URL -----------------------------------------------------------------

# role on the schedule's team (or "superuser", "lead elsewhere", "outsider") x shown the feed URL
FEED_URL_TABLE = [
    ("superuser", True),
    ("admin", True),
    ("lead", True),
    ("member", False),
    ("lead elsewhere", False),
    ("outsider", False),
]


def _person_with(role: str, team):
    from teams.models import Membership
    from tests.factories import AdminFactory, MembershipFactory, TeamFactory

    if role == "superuser":
        return AdminFactory()
    user = UserFactory()
    if role == "lead elsewhere":
        MembershipFactory(team=TeamFactory(slug="elsewhere"), user=user, role=Membership.Role.LEAD)
    elif role != "outsider":
        MembershipFactory(team=team, user=user, role=role)
    return user


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "shown"), FEED_URL_TABLE)
def test_schedule_feed_url_only_for_those_who_may_reset_it(role, shown, team, schedule, client):
    from oncall import services

    user = _person_with(role, team)
    api = token_client(user)
    # The rule is the reset action's: these people may reset it, the others are refused.
    reset = api.post(f"/api/v1/schedules/{schedule.pk}/reset-feed/", {"confirm": True}, format="json")
    assert reset.status_code == (200 if shown else 403)
    assert services.can_reset_feed(user, schedule) is shown
    schedule.refresh_from_db()
    feed = f"/{schedule.ical_token}.ics"
    listed = api.get("/api/v1/schedules/").json()["results"][0]
    detail = api.get(f"/api/v1/schedules/{schedule.pk}/").json()
    if shown:
        assert listed["ical_url"].endswith(feed) and detail["ical_url"].endswith(feed)
    else:
        assert listed["ical_url"] is None and detail["ical_url"] is None
    client.force_login(user)
    html = client.get(f"/oncall/schedules/{schedule.pk}/").content.decode()
    assert (schedule.ical_token in html) is shown
    assert ('data-testid="schedule-feed-personal"' in html) is not shown


@pytest.mark.django_db
def test_schedule_list_decides_the_feed_urls_in_one_query(team, lead):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from teams.models import Membership
    from tests.factories import MembershipFactory, TeamFactory

    api = token_client(lead)
    make_schedule(team, name="One")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert api.get("/api/v1/schedules/").status_code == 200
        return len(ctx)

    few = count()
    for n in range(5):
        other = TeamFactory(slug=f"t{n}")
        MembershipFactory(team=other, user=lead, role=Membership.Role.MEMBER)
        make_schedule(other, name=f"S{n}")
    assert count() == few
    body = api.get("/api/v1/schedules/").json()["results"]
    assert [s["ical_url"] is not None for s in body].count(True) == 1  # only payments' schedule
