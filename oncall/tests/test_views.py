"""On-call web pages: who is on call, a schedule's next 14 days with gaps, the rotation editor's preview before
saving, overrides, my shifts and my feed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from oncall.models import CalendarFeed, Override, Rotation
from oncall.tests.schedule_helpers import lead_of, make_rotation, make_schedule
from tests.factories import UserFactory


@pytest.fixture
def lead(team):
    return lead_of(team)


@pytest.fixture
def schedule(team):
    schedule = make_schedule(team, name="Primary")
    make_rotation(
        schedule,
        [UserFactory(username="ann", first_name="Ann", last_name="Lee")],
        period="daily",
        start_date=date.today() - timedelta(days=2),
        handoff_time=time(0),
        restrictions=[{"days": [0, 1, 2, 3, 4, 5, 6], "start": "08:00", "end": "20:00"}],
    )
    return schedule


@pytest.mark.django_db
def test_pages_need_a_login(client, schedule):
    for url in [
        "/oncall/",
        "/oncall/teams/payments/",
        f"/oncall/schedules/{schedule.pk}/",
        "/oncall/my-shifts/",
    ]:
        assert client.get(url).status_code == 302


@pytest.mark.django_db
def test_index_and_team_page_show_who_is_on_call_at_a_chosen_time(client, member, schedule):
    client.force_login(member)
    today = datetime.now(UTC).date()
    r = client.get("/oncall/", {"at": f"{today}T12:00"})
    assert r.status_code == 200
    assert b"Ann Lee" in r.content and b"Payments" in r.content
    r = client.get("/oncall/teams/payments/", {"at": f"{today}T03:00"})
    assert r.status_code == 200 and b"Nobody on call" in r.content
    r = client.get("/oncall/teams/payments/", {"at": "not a time"})
    assert r.status_code == 200 and b"Not a date and time" in r.content
    assert client.get("/oncall/teams/nope/").status_code == 404


@pytest.mark.django_db
def test_schedule_page_shows_14_days_with_gaps_highlighted(client, member, schedule):
    client.force_login(member)
    r = client.get(f"/oncall/schedules/{schedule.pk}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert html.count('data-kind="gap"') >= 13  # every night is a gap
    assert html.count('data-kind="shift"') >= 13
    assert "gaps in coverage" in html
    # A member reads, does not edit, and is not shown the schedule's secret feed: they have their own.
    assert schedule.ical_token not in html and 'data-testid="schedule-feed-personal"' in html
    assert "Add a rotation" not in html
    assert client.get("/oncall/schedules/999/").status_code == 404


@pytest.mark.django_db
def test_rotation_preview_shows_final_shifts_without_saving(client, lead, schedule):
    client.force_login(lead)
    UserFactory(username="night", first_name="Nia", last_name="Ght")
    body = {
        "name": "Nights",
        "layer": "2",
        "time_zone": "UTC",
        "start_date": str(date.today() - timedelta(days=1)),
        "handoff_time": "00:00",
        "period": "daily",
        "members": "night",
        "restrictions": '[{"days": [0,1,2,3,4,5,6], "start": "20:00", "end": "08:00"}]',
        "preview": "1",
    }
    r = client.post(f"/oncall/schedules/{schedule.pk}/rotations/new/", body)
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-testid="preview"' in html
    assert "Nia Ght" in html and "Ann Lee" in html
    assert html.count('data-kind="gap"') == 0  # the night layer closes every gap
    assert Rotation.objects.count() == 1  # nothing saved
    del body["preview"]
    body["save"] = "1"
    r = client.post(f"/oncall/schedules/{schedule.pk}/rotations/new/", body)
    assert r.status_code == 302
    assert Rotation.objects.filter(name="Nights", layer=2).exists()


@pytest.mark.django_db
def test_rotation_form_errors_next_to_the_field(client, lead, schedule):
    client.force_login(lead)
    body = {
        "name": "Bad",
        "layer": "1",
        "time_zone": "Mars/Base",
        "start_date": "2026-01-01",
        "handoff_time": "09:00",
        "period": "weekly",
        "members": "ghost",
        "restrictions": "[{",
        "preview": "1",
    }
    r = client.post(f"/oncall/schedules/{schedule.pk}/rotations/new/", body)
    assert r.status_code == 200
    form = r.context["form"]
    assert "members" in form.errors and "restrictions" in form.errors
    body.update(members="ann", restrictions="")
    r = client.post(f"/oncall/schedules/{schedule.pk}/rotations/new/", body)
    assert "time_zone" in r.context["form"].errors
    assert Rotation.objects.count() == 1


@pytest.mark.django_db
def test_member_cannot_save_a_rotation_or_override(client, member, schedule):
    client.force_login(member)
    rotation = schedule.rotations.get()
    r = client.post(f"/oncall/schedules/{schedule.pk}/rotations/{rotation.pk}/", {"delete": "1"})
    assert r.status_code == 302 and Rotation.objects.filter(pk=rotation.pk).exists()
    r = client.post(
        f"/oncall/schedules/{schedule.pk}/overrides/new/",
        {"user": "bob", "starts_at": "2026-06-01T00:00", "ends_at": "2026-06-02T00:00"},
    )
    assert r.status_code == 302 and not Override.objects.exists()


@pytest.mark.django_db
def test_lead_edits_and_deletes_a_rotation_and_adds_an_override(client, lead, schedule):
    client.force_login(lead)
    rotation = schedule.rotations.get()
    r = client.get(f"/oncall/schedules/{schedule.pk}/rotations/{rotation.pk}/")
    assert r.status_code == 200 and b'value="ann"' in r.content
    r = client.post(
        f"/oncall/schedules/{schedule.pk}/overrides/new/",
        {"user": "ann", "starts_at": "2026-06-01T00:00", "ends_at": "2026-06-02T00:00", "note": "swap"},
    )
    assert r.status_code == 302
    override = Override.objects.get()
    assert override.starts_at == datetime(2026, 6, 1, tzinfo=UTC) and override.created_by == lead
    r = client.post(
        f"/oncall/schedules/{schedule.pk}/overrides/new/",
        {"user": "ann", "starts_at": "2026-06-02T00:00", "ends_at": "2026-06-01T00:00"},
    )
    assert r.status_code == 200 and "ends_at" in r.context["form"].errors
    r = client.post(f"/oncall/schedules/{schedule.pk}/rotations/{rotation.pk}/", {"delete": "1"})
    assert r.status_code == 302 and not Rotation.objects.exists()


@pytest.mark.django_db
def test_my_shifts_lists_shifts_and_the_feed_url_which_can_be_reset(client, schedule):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ann = UserFactory(username="ann")
    client.force_login(ann)
    with CaptureQueriesContext(connection) as queries:
        r = client.get("/oncall/my-shifts/")
    assert r.status_code == 200
    # A GET never writes: the feed is created by the person's POST, not by a page view.
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))
    ]
    assert writes == [] and not CalendarFeed.objects.filter(user=ann).exists()
    assert 'data-testid="feed-create"' in r.content.decode()
    assert client.post("/oncall/my-shifts/reset-feed/").status_code == 302
    r = client.get("/oncall/my-shifts/")
    token = CalendarFeed.objects.get(user=ann).token
    assert token in r.content.decode()
    assert r.content.decode().count("Primary") >= 10
    r = client.post("/oncall/my-shifts/reset-feed/")
    assert r.status_code == 302
    assert CalendarFeed.objects.get(user=ann).token != token


@pytest.mark.django_db
def test_team_page_and_nav_link_to_on_call(client, member, team):
    client.force_login(member)
    html = client.get("/teams/payments/").content.decode()
    assert "/oncall/teams/payments/" in html and 'href="/oncall/"' in html


@pytest.mark.django_db
def test_admin_pages_show_the_preview_and_refuse_bad_rotations(client, admin_user, schedule):
    client.force_login(admin_user)
    for url in [
        "/admin/oncall/schedule/",
        f"/admin/oncall/schedule/{schedule.pk}/change/",
        "/admin/oncall/rotation/",
        f"/admin/oncall/rotation/{schedule.rotations.get().pk}/change/",
        "/admin/oncall/override/",
        "/admin/oncall/calendarfeed/",
        "/admin/oncall/rotation/add/",
    ]:
        assert client.get(url).status_code == 200, url
    html = client.get(f"/admin/oncall/schedule/{schedule.pk}/change/").content.decode()
    assert "GAP: nobody on call" in html and "Final shifts, next 14 days" in html
    r = client.post(
        "/admin/oncall/rotation/add/",
        {
            "schedule": schedule.pk,
            "name": "Bad",
            "layer": 1,
            "time_zone": "UTC",
            "start_date": "9999-12-31",
            "handoff_time": "23:00",
            "period": "custom",
            "restrictions": '[{"days": [8], "start": "09:00", "end": "17:00"}]',
            "members-TOTAL_FORMS": 0,
            "members-INITIAL_FORMS": 0,
        },
    )
    assert r.status_code == 200
    errors = r.context["adminform"].form.errors
    assert {"restrictions", "period_hours", "start_date"} <= set(errors)
    assert Rotation.objects.count() == 1


@pytest.mark.django_db
def test_lead_creates_a_schedule_from_the_team_page_member_cannot(client, lead, member, team):
    from oncall.models import Schedule

    client.force_login(member)
    assert b'data-testid="schedule-form"' not in client.get("/oncall/teams/payments/").content
    r = client.post("/oncall/teams/payments/", {"name": "Primary", "time_zone": "UTC"})
    assert r.status_code == 302 and not Schedule.objects.exists()
    client.force_login(lead)
    assert b'data-testid="schedule-form"' in client.get("/oncall/teams/payments/").content
    r = client.post("/oncall/teams/payments/", {"name": "Primary", "time_zone": "Moon/Base"})
    assert r.status_code == 200 and "time_zone" in r.context["form"].errors
    r = client.post("/oncall/teams/payments/", {"name": "Primary", "time_zone": "Europe/London"})
    schedule = Schedule.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/oncall/schedules/{schedule.pk}/rotations/new/"
    r = client.post("/oncall/teams/payments/", {"name": "primary", "time_zone": "UTC"})
    assert r.status_code == 200 and "name" in r.context["form"].errors


@pytest.mark.django_db
def test_override_removal_needs_an_editor(client, lead, member, schedule):
    from oncall.tests.schedule_helpers import make_override

    override = make_override(
        schedule, lead, datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC)
    )
    url = f"/oncall/schedules/{schedule.pk}/overrides/{override.pk}/delete/"
    client.force_login(member)
    assert client.post(url).status_code == 302 and Override.objects.exists()
    client.force_login(lead)
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 302 and not Override.objects.exists()
    assert client.post(url).status_code == 404


@pytest.mark.django_db
def test_schedule_feed_reset_from_the_page(client, lead, member, schedule):
    old = schedule.ical_token
    url = f"/oncall/schedules/{schedule.pk}/reset-feed/"
    client.force_login(member)
    client.post(url)
    schedule.refresh_from_db()
    assert schedule.ical_token == old
    client.force_login(lead)
    assert client.post(url).status_code == 302
    schedule.refresh_from_db()
    assert schedule.ical_token != old
