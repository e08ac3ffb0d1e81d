"""Publishing from the incident page: ``POST /status/incidents/<pk>/publish/`` (the "Status page" panel's form).

The text is checked for internal details first (``redaction.find_internal_details``); if anything is found the
form comes back with the findings and a required "I have checked: publish anyway" box, and nothing is published
until the messenger ticks it for that very text. Then the public incident is opened (the first time, linked to this
incident) or updated through ``statuspage.services``, and a ``statuspage.published`` event goes on the timeline, in
one transaction under the incident's row lock.
"""

from __future__ import annotations

import hashlib

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.db import atomic
from core.errors import DomainError, NotFound, PermissionDenied, StaleState, ValidationError
from core.templatetags.muster import display_name
from incidents import selectors as incident_selectors
from incidents import versions
from incidents.models import EventKind, Incident, Source
from incidents.services import TEXT_MAX, incident_lock, incident_record_event
from statuspage import kinds, panels, redaction, services, wording
from statuspage.forms import PublishForm
from statuspage.models import PublicIncident, PublicUpdate, StatusPage
from statuspage.permissions import PUBLISH_REFUSAL

NO_IMPACT_REFUSAL = "Only an incident with customer impact is published to a status page."


def _describe(event, people) -> str:
    d = event.data if isinstance(event.data, dict) else {}
    who = display_name(event.actor) if event.actor_id else (event.via or "Muster")
    return (
        f"{who} published {d.get('status_label') or d.get('status')} to {d.get('page_name') or d.get('page')}"
    )


#: Another publication, or a status change of the incident, since the form was shown makes it stale: the wording
#: was chosen for a state that is gone (two messengers at once, or "identified" posted over a resolve).
CONCERN = versions.Concern(
    frozenset({kinds.PUBLISHED, EventKind.STATUS_CHANGED}),
    describe=lambda event, people: (
        _describe(event, people)
        if event.kind == kinds.PUBLISHED
        else versions._what(event, people, versions.STATUS)
    ),
)


def _digest(name: str, body: str) -> str:
    return hashlib.sha256(f"{name}\x00{body}".encode()).hexdigest()[:32]


def check_text(text: str) -> list[redaction.Finding]:
    """The internal details in ``text``: staff emails are the active users', titles the private incidents'."""
    emails = get_user_model().objects.filter(is_active=True).exclude(email="").values_list("email", flat=True)
    titles = Incident.objects.filter(private=True).values_list("title", flat=True)
    return redaction.find_internal_details(text, staff_emails=list(emails), private_titles=list(titles))


@atomic
def publish_from_incident(
    *,
    actor,
    incident: Incident,
    page: StatusPage,
    status: str,
    body: str,
    name: str = "",
    impact: str = "minor",
    components: dict | None = None,
    expected_version: int | None = None,
) -> PublicUpdate:
    """Open the page's public incident for ``incident`` (the first time) or add an update to it, and record
    ``statuspage.published`` on the incident's timeline. A private incident, or one without customer impact, is
    refused; a publication or status change since ``expected_version`` refuses (``StaleState``)."""
    incident = incident_lock(incident_id=incident.pk)
    if incident.private:
        raise ValidationError(services.PRIVATE_REFUSAL, code="private_incident", field="incident")
    if not incident.customer_impact:
        raise ValidationError(NO_IMPACT_REFUSAL, field="incident")
    versions.ensure_current(incident=incident, expected_version=expected_version, concern=CONCERN)
    public = (
        PublicIncident.objects.filter(page=page, incident=incident).order_by("-created_at", "-id").first()
    )
    first = public is None
    if first:
        public = services.public_incident_create(
            actor=actor,
            page=page,
            incident=incident,
            name=name or incident.title,
            body=body,
            status=status,
            impact=impact or "minor",
            components=components or None,
        )
        update = public.updates.order_by("-created_at", "-id").first()
    else:
        update = services.public_update_publish(
            actor=actor,
            public_incident=public,
            status=status,
            body=body,
            components=components if components else None,
        )
    incident_record_event(
        incident=incident,
        kind=kinds.PUBLISHED,
        text=body[:TEXT_MAX],
        data={
            "status": status,
            "status_label": wording.STATUS_LABELS.get(status, status),
            "page": page.slug,
            "page_name": page.name,
            "public_incident": public.code,
            "update": update.code,
            "first": first,
        },
        actor=actor,
        source=Source.WEB,
    )
    return update


def _components(request, entry) -> tuple[dict, list[str]]:
    chosen, errors = {}, []
    allowed = {value for value, _ in panels.ComponentStatus.choices}
    for component in entry["components"]:
        value = request.POST.get(f"component-{component.code}", "")
        if not value:
            continue
        if value not in allowed:
            errors.append(f"Unknown status {value!r} for {component.name}.")
            continue
        chosen[component] = value
    return chosen, errors


def _refuse(request, incident, message: str, code: int) -> HttpResponse:
    ctx = {"incident": incident, "message": message, "code": code}
    return render(request, "statuspage/refused.html", ctx, status=code)


def _reshow(request, incident, ctx, form, *, initial, errors=(), findings=(), checked="", status=400):
    entry = next(
        (e for e in ctx["sp_entries"] if e["page"].slug == initial.get("page")), ctx["sp_entries"][0]
    )
    ctx.update(
        sp_form=form,
        sp_first=entry,
        sp_initial=initial,
        sp_errors=list(errors),
        sp_findings=list(findings),
        sp_checked=checked,
    )
    return render(request, "statuspage/publish.html", ctx, status=status)


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        incident = incident_selectors.incident_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404("No such incident.") from None
    if incident.private:
        return _refuse(request, incident, services.PRIVATE_REFUSAL, 403)
    if not incident.customer_impact:
        return _refuse(request, incident, NO_IMPACT_REFUSAL, 400)
    ctx = panels.publish_context(incident, request.user)
    if ctx is None:
        return _refuse(request, incident, PUBLISH_REFUSAL, 403)
    form = PublishForm(request.POST)
    post = request.POST
    initial = {
        "page": post.get("page", ""),
        "status": post.get("status", ""),
        "body": post.get("body", ""),
        "name": post.get("name", ""),
        "impact": post.get("impact", ""),
        "components": {},
    }
    entry = next((e for e in ctx["sp_entries"] if e["page"].slug == initial["page"]), None)
    if entry is not None:
        initial["components"] = {
            c.pk: post.get(f"component-{c.code}")
            for c in entry["components"]
            if post.get(f"component-{c.code}")
        }
    if not form.is_valid():
        errors = [e for errs in form.errors.values() for e in errs]
        return _reshow(request, incident, ctx, form, initial=initial, errors=errors)
    data = form.cleaned_data
    if entry is None:
        return _reshow(request, incident, ctx, form, initial=initial, errors=["No such status page."])
    components, errors = _components(request, entry)
    if errors:
        return _reshow(request, incident, ctx, form, initial=initial, errors=errors)
    name = data.get("name") or ""
    digest = _digest(name, data["body"])
    findings = check_text(f"{name}\n{data['body']}" if name else data["body"])
    if findings and not (data.get("confirm") and data.get("checked") == digest):
        return _reshow(
            request, incident, ctx, form, initial=initial, findings=findings, checked=digest, status=200
        )
    try:
        publish_from_incident(
            actor=request.user,
            incident=incident,
            page=entry["page"],
            status=data["status"],
            body=data["body"],
            name=name if entry["public"] is None else "",
            impact=data.get("impact") or "minor",
            components=components,
            expected_version=data["version"],
        )
    except NotFound:
        raise Http404("No such incident.") from None
    except StaleState as error:
        return _reshow(request, incident, ctx, form, initial=initial, errors=[error.message], status=412)
    except PermissionDenied as error:
        return _reshow(request, incident, ctx, form, initial=initial, errors=[error.message], status=403)
    except DomainError as error:
        return _reshow(
            request, incident, ctx, form, initial=initial, errors=[error.message], status=error.status_code
        )
    label = wording.STATUS_LABELS.get(data["status"], data["status"])
    messages.success(request, f"Published {label} to {entry['page'].name}.")
    return redirect(incident)
