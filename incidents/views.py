"""The staff web UI for incidents: dashboard, list, declare, the incident page and its small action views.

Views are entrances: they parse input with forms, call ``incidents.services`` / ``selectors`` / ``permissions``
and render. Every write is a POST to an action view; with htmx it answers the re-rendered parts of the page
(out-of-band swaps), without it it redirects back to the incident, so the whole UI works without JavaScript.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from core.errors import Conflict, DomainError, NotFound, StaleState, Unprocessable
from core.forms import add_domain_error
from incidents import permissions, selectors, services, state
from incidents.forms import (
    AssignRoleForm,
    DeclareForm,
    IncidentEditForm,
    IncidentFilterForm,
    NoteForm,
    RelieveRoleForm,
    SeverityForm,
    TransitionForm,
    UpdateForm,
)
from incidents.live import global_page_key, incident_page_key, live_page
from incidents.models import Incident, Source
from incidents.timeline import timeline_entries
from teams.models import Team
from teams.selectors import assignable_user_groups

PAGE_SIZE = 25

# The parts of the incident page that action views re-render (each template has the region's id).
HEADER, SIDEBAR, TIMELINE, NOTE_FORM, UPDATE_FORM = (
    "header",
    "sidebar",
    "timeline",
    "note_form",
    "update_form",
)


# --- Helpers -------------------------------------------------------------------------------------


def _get_incident(request: HttpRequest, pk: int) -> Incident:
    """The incident, or a 404 (also for a private incident the user may not see)."""
    try:
        return selectors.incident_get(user=request.user, pk=pk)
    except NotFound:
        raise Http404("No such incident.") from None


def _with_leads(incidents: Iterable[Incident]) -> list[Incident]:
    """Attach ``lead`` (the current lead's user or None) to each incident, from the prefetched roles."""
    rows = list(incidents)
    for incident in rows:
        incident.lead = selectors.incident_lead(incident)
    return rows


def _region_context(
    request: HttpRequest, incident: Incident, regions: set[str], forms: dict | None = None
) -> dict:
    """The context the given regions of the incident page need, and nothing more."""
    user = request.user
    forms = forms or {}
    ctx: dict = {
        "incident": incident,
        "can_act": permissions.can_act(user, incident),
        "can_note": permissions.can_note(user, incident),
        "regions": regions,
    }
    current = selectors.current_roles(incident)
    if HEADER in regions or SIDEBAR in regions:
        ctx["current"] = current
        ctx["next_actions"] = selectors.incident_next_actions(incident)
    if TIMELINE in regions or SIDEBAR in regions:
        severities = list(selectors.severity_list())
        ctx["severities"] = severities
    if TIMELINE in regions:
        ctx["entries"] = timeline_entries(
            selectors.timeline_list(incident=incident),
            {"severities": {s.slug: s for s in ctx["severities"]}},
        )
    if SIDEBAR in regions:
        ctx["targets"] = [
            {"value": s.value, "label": _action_label(incident.status, s), "status": s.value}
            for s in state.allowed_targets(incident.status)
        ]
        ctx["role_rows"] = [{"role": r, "assignment": current.get(r.slug)} for r in selectors.role_list()]
        ctx["history"] = [a for a in selectors.role_history(incident=incident) if a.relieved_at is not None]
        ctx["roles_final"] = not state.roles_editable(incident.status)
        if ctx["can_act"]:
            ctx["users"] = assignable_user_groups(team=incident.team)
        ctx["edit_form"] = forms.get("edit_form") or IncidentEditForm.for_incident(incident)
    if NOTE_FORM in regions:
        ctx["note_form"] = forms.get("note_form") or NoteForm()
    if UPDATE_FORM in regions:
        ctx["update_form"] = forms.get("update_form") or UpdateForm()
    return ctx


def _action_label(current: str, target: state.Status) -> str:
    """The button for a move: going back to investigating from resolved is reopening, and says so."""
    if current == state.Status.RESOLVED and target == state.Status.INVESTIGATING:
        return "Reopen"
    return state.ACTION_LABELS[target]


ALL_REGIONS = frozenset({HEADER, SIDEBAR, TIMELINE, NOTE_FORM, UPDATE_FORM})


def _render_detail(request: HttpRequest, incident: Incident, forms: dict | None = None, status: int = 200):
    ctx = _region_context(request, incident, set(ALL_REGIONS), forms)
    return render(request, "incidents/detail.html", ctx, status=status)


def _finish(
    request: HttpRequest,
    pk: int,
    regions: set[str],
    forms: dict | None = None,
    failed: bool = False,
    status: int = 400,
) -> HttpResponse:
    """Answer an action: the re-rendered regions for htmx, a redirect (or the page with errors) without it."""
    try:
        incident = selectors.incident_get(user=request.user, pk=pk)
    except NotFound:
        # The change took the incident out of the user's sight (e.g. made private): leave the page.
        messages.info(request, "The incident is private now; only its participants can see it.")
        url = reverse("incidents:list")
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if request.htmx:
        ctx = _region_context(request, incident, regions, forms)
        ctx["oob"] = True
        return render(request, "incidents/partials/oob.html", ctx)
    if failed and forms:
        return _render_detail(request, incident, forms, status=status)
    return redirect(incident)


def _domain_message(request: HttpRequest, error: DomainError) -> None:
    if isinstance(error, NotFound):
        raise Http404(error.message)
    messages.error(request, error.message)


def _form_error(request: HttpRequest, form, error: DomainError) -> bool:
    """Show a service error next to its field when the form has it (True), else as a message (False)."""
    if isinstance(error, NotFound):
        raise Http404(error.message)
    if error.field and error.field in form.fields:
        add_domain_error(form, error)
        return True
    messages.error(request, error.message)
    return False


def _form_errors_message(request: HttpRequest, form) -> None:
    for field, errors in form.errors.items():
        if field == "version":  # the page is out of date: say so plainly, the answer shows the current state
            messages.error(request, errors[0])
            continue
        label = (
            form.fields[field].label or field.replace("_", " ").capitalize() if field in form.fields else ""
        )
        for error in errors:
            messages.error(request, f"{label}: {error}" if label else error)


# --- Pages ---------------------------------------------------------------------------------------


@login_required
@require_GET
@live_page(global_page_key)
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    open_incidents = _with_leads(selectors.incident_list(user=user, filters={"status": "open"}))
    counts = selectors.open_incident_counts(user=user)
    severities = list(selectors.severity_list())
    groups = []
    for severity in severities:
        rows = [i for i in open_incidents if i.severity_id == severity.pk]
        if rows:
            groups.append({"severity": severity, "incidents": rows})
    mine = [
        i for i in open_incidents if any(a.user_id == user.pk for a in getattr(i, "current_assignments", []))
    ]
    for incident in mine:
        incident.my_roles = [a.role for a in incident.current_assignments if a.user_id == user.pk]
    by_team = counts["by_team"]
    teams = {t.slug: t for t in Team.objects.filter(slug__in=[s for s in by_team if s])}
    team_counts = sorted(
        ({"team": teams.get(slug), "slug": slug, "count": n} for slug, n in by_team.items()),
        key=lambda row: (-row["count"], row["team"].name if row["team"] else "~"),
    )
    severity_counts = [{"severity": s, "count": counts["by_severity"].get(s.slug, 0)} for s in severities]
    return render(
        request,
        "incidents/dashboard.html",
        {
            "groups": groups,
            "mine": mine,
            "total": counts["total"],
            "team_counts": team_counts,
            "severity_counts": severity_counts,
        },
    )


@login_required
@require_GET
@live_page(global_page_key)
def incident_list(request: HttpRequest) -> HttpResponse:
    form = IncidentFilterForm(request.GET or None)
    filters: dict = {}
    if form.is_bound:
        form.is_valid()  # invalid fields are shown as errors and left out of the filters
        filters = form.filters()
    paginator = Paginator(selectors.incident_list(user=request.user, filters=filters), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    page.object_list = _with_leads(page.object_list)
    return render(
        request,
        "incidents/list.html",
        {"form": form, "page": page, "filtered": bool(filters), "paginator": paginator},
    )


def _declare_fingerprint(request: HttpRequest) -> str:
    """The hash of the declare form's fields as sent (without the CSRF token), the same for a repeated submit."""
    fields = sorted(
        (name, value)
        for name in request.POST
        if name not in ("csrfmiddlewaretoken", "intent")
        for value in request.POST.getlist(name)
    )
    return hashlib.sha256(repr(fields).encode()).hexdigest()


#: How long a repeated submit waits for the first one's declaration to finish before it gives up.
DECLARE_WAIT_SECONDS = 5.0


def _declare_once(request: HttpRequest, intent: str, declare: dict) -> Incident:
    """Declare through the core's idempotent declare, keyed by the form's token: a repeated submit of the same
    form answers the incident the first one declared, waiting while the first is still running."""
    deadline = time.monotonic() + DECLARE_WAIT_SECONDS
    while True:
        try:
            incident, _created = services.incident_declare_once(
                idempotency_key=intent,
                request_hash=_declare_fingerprint(request),
                scope=f"user:{request.user.pk}",
                source=Source.WEB,
                **declare,
            )
            return incident
        except Conflict:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


@login_required
def declare(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        form = DeclareForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            declare = {
                "title": data["title"],
                "severity": data["severity"],
                "summary": data["summary"],
                "team": data["team"],
                "services": list(data["services"]),
                "customer_impact": data["customer_impact"],
                "private": data["private"],
                "lead": request.user if data["lead_me"] else None,
                "actor": request.user,
            }
            try:
                if data["intent"]:
                    incident = _declare_once(request, data["intent"], declare)
                else:  # a form rendered before forms carried a token
                    incident = services.incident_declare(source=Source.WEB, **declare)
            except Unprocessable:
                # The same form, sent again with other values after its incident was declared: say so, and let
                # the person send it as a new incident on purpose (a fresh token).
                form = DeclareForm(request.POST.copy())
                form.data["intent"] = DeclareForm.new_intent()
                form.is_valid()
                form.add_error(
                    None,
                    "This form already declared an incident. Check the incident list; to declare another one, "
                    "submit again.",
                )
            except DomainError as error:
                add_domain_error(form, error)
            else:
                messages.success(request, f"{incident.reference} declared. Thank you for raising it.")
                return redirect(incident)
        status = 400
    else:
        form = DeclareForm(
            initial={
                "severity": request.GET.get("severity", ""),
                "team": request.GET.get("team", ""),
                "intent": DeclareForm.new_intent(),
            }
        )
    return render(request, "incidents/declare.html", {"form": form}, status=status)


@login_required
@require_GET
@live_page(incident_page_key)
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The incident page. It stays current by polling itself (``incidents.live``): a ``204`` while nothing changed,
    else the page, whose ``data-live-region`` parts the browser swaps in."""
    return _render_detail(request, _get_incident(request, pk))


@login_required
@require_GET
def timeline(request: HttpRequest, pk: int) -> HttpResponse:
    """The timeline partial (the incident page itself stays current through ``incidents.live``); with htmx the
    header comes along out of band."""
    incident = _get_incident(request, pk)
    regions = {TIMELINE, HEADER} if request.htmx else {TIMELINE}
    ctx = _region_context(request, incident, regions)
    ctx["poll"] = True
    return render(request, "incidents/partials/poll.html", ctx)


# --- Fragments for the team pages (teams do not import incidents) ------------------------------


@login_required
@require_GET
def team_open_incidents(request: HttpRequest, slug: str) -> HttpResponse:
    """The open incidents of a team that the user may see, as a list fragment for the team page."""
    incidents = _with_leads(
        selectors.incident_list(user=request.user, filters={"team": slug, "status": "open"})
    )
    return render(request, "incidents/partials/team_open.html", {"incidents": incidents, "slug": slug})


@login_required
@require_GET
def team_open_counts(request: HttpRequest) -> HttpResponse:
    """Open incident counts of the teams named in ``?teams=a,b,c``, as out-of-band swaps for the team list."""
    wanted = [s for s in request.GET.get("teams", "").split(",") if s][:200]
    by_team = selectors.open_incident_counts(user=request.user)["by_team"]
    return render(
        request,
        "incidents/partials/team_counts.html",
        {"rows": [{"slug": slug, "count": by_team.get(slug, 0)} for slug in wanted]},
    )


# --- Actions -------------------------------------------------------------------------------------


def _control_action(request: HttpRequest, pk: int, form_class, act) -> HttpResponse:
    """A triage control (status, severity, roles): run ``act(incident, cleaned_data)``, which calls one service
    and returns the success message; refusals and invalid input become messages."""
    incident = _get_incident(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            message = act(incident, form.cleaned_data)
        except DomainError as error:
            _domain_message(request, error)
        else:
            messages.success(request, message)
    else:
        _form_errors_message(request, form)
    return _finish(request, pk, {HEADER, SIDEBAR, TIMELINE})


def _form_action(
    request: HttpRequest, pk: int, form_class, form_key: str, regions: set[str], act, success: str = ""
) -> HttpResponse:
    """A form on the incident page (note, update, details): errors stay next to the fields with the input kept."""
    incident = _get_incident(request, pk)
    form = form_class(request.POST)
    failed = True
    if "version" in form.errors:
        # Out of date (no version sent): the current state, with what was typed kept for a deliberate retry.
        _form_errors_message(request, form)
        return _finish(request, pk, regions, forms=_kept(form_class, form, form_key), failed=True, status=409)
    if form.is_valid():
        try:
            act(incident, form)
        except StaleState as error:
            messages.error(request, error.message)
            return _finish(
                request, pk, regions, forms=_kept(form_class, form, form_key), failed=True, status=409
            )
        except DomainError as error:
            failed = _form_error(request, form, error)
        else:
            failed = False
            if success:
                messages.success(request, success)
    return _finish(request, pk, regions, forms={form_key: form} if failed else None, failed=failed)


def _kept(form_class, form, form_key: str) -> dict | None:
    """After a stale submission: the stakeholder update keeps its text (unbound, so it carries the current version
    and a second press posts it knowingly); the details form shows the current values."""
    if form_class is UpdateForm:
        return {form_key: UpdateForm(initial={"text": form.data.get("text", "")})}
    return None


@login_required
@require_POST
def transition(request: HttpRequest, pk: int) -> HttpResponse:
    def act(incident, data):
        incident = services.incident_transition(
            incident=incident,
            to=data["to"],
            reason=data["reason"],
            actor=request.user,
            source=Source.WEB,
            expected_version=data["version"],
        )
        return f"{incident.reference} is now {incident.status}."

    return _control_action(request, pk, TransitionForm, act)


@login_required
@require_POST
def change_severity(request: HttpRequest, pk: int) -> HttpResponse:
    def act(incident, data):
        services.incident_change_severity(
            incident=incident,
            severity=data["severity"],
            reason=data["reason"],
            actor=request.user,
            source=Source.WEB,
            expected_version=data["version"],
        )
        return f"Severity changed to {data['severity'].name}."

    return _control_action(request, pk, SeverityForm, act)


@login_required
@require_POST
def assign_role(request: HttpRequest, pk: int) -> HttpResponse:
    def act(incident, data):
        role, user = data["role"], data["user"]
        services.incident_assign_role(
            incident=incident,
            role=role,
            user=user,
            actor=request.user,
            source=Source.WEB,
            expected_version=data["version"],
        )
        who = "You are" if user.pk == request.user.pk else f"{user.get_full_name() or user} is"
        return f"{who} now the {role.name.lower()}."

    return _control_action(request, pk, AssignRoleForm, act)


@login_required
@require_POST
def relieve_role(request: HttpRequest, pk: int) -> HttpResponse:
    def act(incident, data):
        services.incident_relieve_role(
            incident=incident,
            role=data["role"],
            actor=request.user,
            source=Source.WEB,
            expected_version=data["version"],
        )
        return f"The {data['role'].name.lower()} role is free now."

    return _control_action(request, pk, RelieveRoleForm, act)


@login_required
@require_POST
def add_note(request: HttpRequest, pk: int) -> HttpResponse:
    def act(incident, form):
        services.incident_add_note(
            incident=incident, text=form.cleaned_data["text"], actor=request.user, source=Source.WEB
        )

    return _form_action(request, pk, NoteForm, "note_form", {TIMELINE, NOTE_FORM}, act)


@login_required
@require_POST
def post_update(request: HttpRequest, pk: int) -> HttpResponse:
    def act(incident, form):
        services.incident_post_update(
            incident=incident,
            text=form.cleaned_data["text"],
            actor=request.user,
            source=Source.WEB,
            expected_version=form.cleaned_data["version"],
        )

    return _form_action(
        request, pk, UpdateForm, "update_form", {TIMELINE, UPDATE_FORM}, act, "Update posted."
    )


@login_required
@require_POST
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    def act(incident, form):
        services.incident_update(
            incident=incident,
            actor=request.user,
            source=Source.WEB,
            expected_version=form.cleaned_data["version"],
            **form.changes(),
        )

    return _form_action(
        request, pk, IncidentEditForm, "edit_form", {HEADER, SIDEBAR, TIMELINE}, act, "Details saved."
    )
