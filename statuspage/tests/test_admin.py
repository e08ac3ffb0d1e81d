"""The status page admin writes through the services: what it publishes is on the API at once, and a private
incident is never offered as a link, not even to an administrator. (Permissions: tests/test_admin_writes_permission.py;
visibility: tests/test_admin_visibility.py.)"""

from __future__ import annotations

from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from statuspage import services
from statuspage.models import PublicIncident
from tests.factories import IncidentFactory, UserFactory


def _management(prefix: str, initial: int = 0) -> dict:
    return {f"{prefix}-TOTAL_FORMS": str(initial), f"{prefix}-INITIAL_FORMS": str(initial),
            f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}  # fmt: skip


def test_publishing_from_the_admin_reaches_the_api(client, db, django_capture_on_commit_callbacks):
    root = UserFactory(is_staff=True, is_superuser=True)
    page = services.status_page_create(actor=root, name="Acme", slug="acme")
    api = services.component_create(actor=root, page=page, name="API")
    client.force_login(root)
    assert client.get("/status/acme/api/v2/summary.json").json()["incidents"] == []
    data = {"page": str(page.pk), "incident": "", "name": "API errors", "impact": "major",
            "update_status": "identified", "update_body": "We are aware there is an issue with the API.",
            "affected_components": [str(api.pk)], "component_status": "major_outage"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:statuspage_publicincident_add"), data | _management("updates"))
    assert response.status_code == 302, response.content.decode()[-2000:]
    summary = client.get("/status/acme/api/v2/summary.json").json()
    assert [i["name"] for i in summary["incidents"]] == ["API errors"]
    assert summary["components"][0]["status"] == "major_outage"

    public = PublicIncident.objects.get()
    change = {"name": "API errors", "impact": "major", "update_status": "resolved", "update_body": "Resolved.",
              "component_status": "partial_outage"}  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:statuspage_publicincident_change", args=[public.pk]),
            change | _management("updates", 1),
        )
    assert response.status_code == 302
    summary = client.get("/status/acme/api/v2/summary.json").json()
    assert summary["incidents"] == [] and summary["components"][0]["status"] == "operational"


def test_a_bad_update_is_a_form_error_not_a_500(client, db):
    root = UserFactory(is_staff=True, is_superuser=True)
    page = services.status_page_create(actor=root, name="Acme", slug="acme")
    public = services.public_incident_create(actor=root, page=page, name="Errors", body="Looking.")
    services.public_update_publish(actor=root, public_incident=public, status="resolved", body="Done.")
    services.public_update_publish(actor=root, public_incident=public, status="postmortem", body="Report.")
    client.force_login(root)
    change = {"name": "Errors", "impact": "minor", "update_status": "investigating", "update_body": "Again?",
              "component_status": "partial_outage"}  # fmt: skip
    response = client.post(
        reverse("admin:statuspage_publicincident_change", args=[public.pk]),
        change | _management("updates", 3),
    )
    assert response.status_code == 200
    assert "A public incident cannot go from postmortem to investigating." in response.content.decode()
    assert public.updates.count() == 3


def test_private_incidents_are_never_offered_as_a_link(db):
    root = UserFactory(is_staff=True, is_superuser=True)
    secret = IncidentFactory(private=True)
    shown = IncidentFactory()
    model_admin = admin.site._registry[PublicIncident]
    request = RequestFactory().get("/")
    request.user = root
    field = model_admin.formfield_for_foreignkey(PublicIncident._meta.get_field("incident"), request)
    assert shown in field.queryset
    assert secret not in field.queryset
