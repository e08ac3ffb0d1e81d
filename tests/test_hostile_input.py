"""Hostile and malformed input across the web UI and the API: a clear 4xx, never a 500."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

#: Each malformed URL and the one right answer: 404 for what cannot exist, 400 for input that cannot be used, 200 for
#: list filters and pages a web list ignores (it shows the list as if they were not there); and the error's code where
#: the answer is JSON (the API, and the URL guard that refuses NUL bytes everywhere).
URLS = [
    ("/incidents/99999999999999999999999/", 404, None),
    ("/incidents/9223372036854775808/", 404, None),
    ("/incidents/?page=abc", 200, None),
    ("/incidents/?page=99999999999999999999", 200, None),
    ("/incidents/?declared_after=garbage&declared_before=2026-13-45", 200, None),
    ("/incidents/?status=bogus&severity=nope&team=zzz", 200, None),
    ("/incidents/?q=%00", 400, "bad_request"),
    ("/teams/nope/", 404, None),
    ("/api/v1/incidents/99999999999999999999999/", 404, "not_found"),
    ("/api/v1/incidents/9223372036854775808/timeline/", 404, "not_found"),
    ("/api/v1/incidents/?declared_after=2026-99-01", 400, "invalid"),
    ("/api/v1/incidents/?q=%00", 400, "bad_request"),
    ("/api/v1/teams/%00/", 400, "bad_request"),
]


@pytest.mark.parametrize(("url", "expected", "code"), URLS)
def test_malformed_get_is_a_clear_answer_never_a_500(client, member, url, expected, code):
    client.force_login(member)
    r = client.get(url)
    assert r.status_code == expected, (url, r.status_code)
    if code is not None:
        assert r.json()["code"] == code


def test_out_of_range_ids_are_404(client, member):
    client.force_login(member)
    for url in [
        reverse("incidents:note", args=[9223372036854775807]),
        reverse("incidents:transition", args=[9223372036854775807]),
        "/incidents/9223372036854775808/transition/",
    ]:
        r = client.post(url, {"text": "x", "to": "investigating"})
        assert r.status_code == 404, (url, r.status_code)
    r = client.post(
        "/api/v1/incidents/9223372036854775808/notes/", {"text": "x"}, content_type="application/json"
    )
    assert r.status_code == 404 and r.json()["code"] == "not_found"


def test_nul_bytes_in_query_strings_are_400_everywhere(admin_client, client, member):
    client.force_login(member)
    for url in ["/teams/?q=a%00b", "/incidents/?q=%00", "/api/v1/teams/?q=%00"]:
        assert client.get(url).status_code == 400, url
    for url in [
        "/admin/incidents/incident/?status__exact=%00",
        "/admin/incidents/timelineevent/?kind__exact=%00",
    ]:
        assert admin_client.get(url).status_code == 400, url


def test_cursor_with_a_nul_byte_is_404(client, member):
    import base64

    client.force_login(member)
    cursor = base64.b64encode(b"p=%00&o=0&r=0").decode()
    response = client.get("/api/v1/teams/", {"cursor": cursor})
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_deeply_nested_json_is_400(client, member):
    from incidents.models import Incident

    client.force_login(member)
    body = "[" * 5000 + "]" * 5000
    response = client.post("/api/v1/incidents/", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"
    assert Incident.objects.count() == 0


def test_huge_incident_reference_search_is_not_an_error(client, member):
    client.force_login(member)
    assert client.get("/incidents/", {"q": "INC-" + "9" * 5000}).status_code == 200
    response = client.get("/api/v1/incidents/", {"q": "INC-" + "9" * 190})
    assert response.status_code == 200 and response.json()["results"] == []


def test_admin_action_with_hand_made_ids_is_refused(admin_client):
    from django.contrib.admin import helpers

    for bad in ["abc", "", "99999999999999999999999"]:
        response = admin_client.post(
            "/admin/incidents/incident/",
            {"action": "transition_status", helpers.ACTION_CHECKBOX_NAME: [bad]},
            follow=True,
        )
        assert response.status_code == 200, bad
        assert b"not valid ids" in response.content, bad


def test_admin_view_on_site_hides_private_incidents(client, member, team):
    from django.contrib.contenttypes.models import ContentType

    from incidents import services
    from incidents.models import Incident
    from tests.factories import UserFactory

    private = services.incident_declare(
        title="Leaked keys", severity="critical", actor=member, team=team, private=True
    )
    ct = ContentType.objects.get_for_model(Incident).pk
    staff = UserFactory(username="staffer", is_staff=True)
    client.force_login(staff)
    assert client.get(f"/admin/r/{ct}/{private.pk}/").status_code == 404
    assert client.get(f"/admin/r/{ct}/999999/").status_code == 404
    client.force_login(member)
    staff_member = member
    staff_member.is_staff = True
    staff_member.save()
    assert client.get(f"/admin/r/{ct}/{private.pk}/").status_code == 302


def test_admin_log_keeps_no_private_title(rf, admin_user, member, team):
    from django.contrib import admin as django_admin
    from django.contrib.admin.models import LogEntry

    from incidents import services
    from incidents.models import Incident

    model_admin = django_admin.site._registry[Incident]
    request = rf.post("/admin/")
    request.user = admin_user
    private = services.incident_declare(
        title="Leaked keys", severity="critical", actor=member, team=team, private=True
    )
    public = services.incident_declare(title="Slow checkout", severity="minor", actor=member, team=team)
    model_admin.log_change(request, private, "Changed title.")
    model_admin.log_addition(request, public, "Added.")
    assert LogEntry.objects.get(object_id=str(private.pk)).object_repr == private.reference
    assert LogEntry.objects.get(object_id=str(public.pk)).object_repr == str(public)
