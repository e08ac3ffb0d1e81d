"""Hostile and malformed input across the web UI and the API: a clear 4xx, never a 500."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

URLS = [
    "/incidents/99999999999999999999999/",
    "/incidents/9223372036854775808/",
    "/incidents/?page=abc",
    "/incidents/?page=99999999999999999999",
    "/incidents/?declared_after=garbage&declared_before=2026-13-45",
    "/incidents/?status=bogus&severity=nope&team=zzz",
    "/incidents/?q=%00",
    "/teams/nope/",
    "/api/v1/incidents/99999999999999999999999/",
    "/api/v1/incidents/9223372036854775808/timeline/",
    "/api/v1/incidents/?declared_after=2026-99-01",
    "/api/v1/incidents/?q=%00",
    "/api/v1/teams/%00/",
]


@pytest.mark.parametrize("url", URLS)
def test_malformed_get_is_never_a_500(client, member, url):
    client.force_login(member)
    r = client.get(url)
    assert r.status_code < 500, (url, r.status_code)


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
