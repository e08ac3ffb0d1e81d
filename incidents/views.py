"""The staff web UI for incidents: dashboard, list, declare, the incident page and its small action views.

Views are entrances: they parse input with forms, call ``incidents.services`` / ``selectors`` / ``permissions``
and render. Every write is a POST to an action view; with htmx it answers the re-rendered parts of the page
(out-of-band swaps), without it it redirects back to the incident, so the whole UI works without JavaScript.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
from collections.abc import Iterable
from datetime import UTC
from html import unescape
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import strip_tags
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from core.errors import Conflict, DomainError, NotFound, StaleState, Unprocessable
from core.forms import add_domain_error
from core.templatetags import muster as muster_tags
from core.validation import to_id
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
from incidents.hints import Hint, HintAction, incident_hints
from incidents.live import global_page_key, incident_page_key, live_page
from incidents.models import Incident, Source
from incidents.timeline import FIELD_LABELS, show_value, timeline_entries
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


# The incidents whose resolver is asked for the final customer update (in their session, until posted or skipped).
FINAL_UPDATE_SESSION = "incidents.final_update"
FINAL_UPDATE_KEPT = 20
FINAL_UPDATE_TEXT = (
    "This incident has been resolved: the service is working normally again. We are reviewing what happened so "
    "that it does not happen again. Thank you for your patience."
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
    if HEADER in regions or UPDATE_FORM in regions:
        ctx["final_update"] = ctx["can_act"] and _final_update_asked(request, incident)
    if HEADER in regions or SIDEBAR in regions:
        ctx["current"] = current
    if HEADER in regions:
        ctx["hints"] = incident_hints(incident, user)
        if ctx["final_update"]:
            ctx["hints"].insert(0, _final_update_hint(incident))
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
        initial = {"text": FINAL_UPDATE_TEXT} if ctx["final_update"] else None
        ctx["update_form"] = forms.get("update_form") or UpdateForm(initial=initial)
    return ctx


def _action_label(current: str, target: state.Status) -> str:
    """The button for a move: going back to investigating from resolved is reopening, and says so."""
    if current == state.Status.RESOLVED and target == state.Status.INVESTIGATING:
        return "Reopen"
    return state.ACTION_LABELS[target]


ALL_REGIONS = frozenset({HEADER, SIDEBAR, TIMELINE, NOTE_FORM, UPDATE_FORM})


def _render_detail(request: HttpRequest, incident: Incident, forms: dict | None = None, status: int = 200):
    ctx = _region_context(request, incident, set(ALL_REGIONS), forms)
    # The stakeholder update's tab is open for its errors, the final update, or a hint's "Post an update" link.
    ctx["update_tab"] = ctx["can_act"] and bool(
        ctx["update_form"].errors or ctx["final_update"] or request.GET.get("compose") == "update"
    )
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


# --- The final customer update, asked for on resolve -------------------------------------------------


def _final_update_applies(incident: Incident) -> bool:
    """Customers were told about this incident (it has customer impact), so they are told it is over."""
    return incident.status == state.Status.RESOLVED and incident.customer_impact


def _final_update_asked(request: HttpRequest, incident: Incident) -> bool:
    asked = request.session.get(FINAL_UPDATE_SESSION) or []
    return incident.pk in asked and _final_update_applies(incident)


def _final_update_ask(request: HttpRequest, incident: Incident) -> None:
    asked = [pk for pk in request.session.get(FINAL_UPDATE_SESSION) or [] if pk != incident.pk]
    request.session[FINAL_UPDATE_SESSION] = [*asked, incident.pk][-FINAL_UPDATE_KEPT:]


def _final_update_done(request: HttpRequest, pk: int) -> None:
    asked = request.session.get(FINAL_UPDATE_SESSION) or []
    if pk in asked:
        request.session[FINAL_UPDATE_SESSION] = [p for p in asked if p != pk]


def _final_update_hint(incident: Incident) -> Hint:
    return Hint(
        level="warn",
        code="final-update",
        title="Post the final customer update",
        text="Customers were affected: tell them it is over. The update below is written for you; edit it and "
        "post it, or skip it.",
        actions=(
            HintAction(label="Review the update", url="#update-form", testid="hint-review-final-update"),
        ),
    )


# --- Pages ---------------------------------------------------------------------------------------


@login_required
@require_GET
@live_page(global_page_key)
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    open_incidents = _with_leads(selectors.incident_board_list(user=user, filters={"status": "open"}))
    # The counts are of the rows just loaded (the same visible open incidents): no second and third query.
    counts = selectors.open_incident_counts_of(open_incidents)
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
    teams = {i.team.slug: i.team for i in open_incidents if i.team_id is not None}
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
    paginator = Paginator(selectors.incident_board_list(user=request.user, filters=filters), PAGE_SIZE)
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
    header comes along out of band. Opened directly (a link, a new tab, a bookmark) it is a page of its own."""
    incident = _get_incident(request, pk)
    if not request.htmx:
        return timeline_page(request, incident)
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


def _control_action(
    request: HttpRequest, pk: int, form_class, act, regions: set[str] | None = None
) -> HttpResponse:
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
    return _finish(request, pk, regions or {HEADER, SIDEBAR, TIMELINE})


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
    regions = {HEADER, SIDEBAR, TIMELINE}

    def act(incident, data):
        incident = services.incident_transition(
            incident=incident,
            to=data["to"],
            reason=data["reason"],
            actor=request.user,
            source=Source.WEB,
            expected_version=data["version"],
        )
        if _final_update_applies(incident):
            # Resolved: the page asks for the final customer update (prefilled, skippable), once.
            _final_update_ask(request, incident)
            regions.add(UPDATE_FORM)
        return f"{incident.reference} is now {incident.status}."

    return _control_action(request, pk, TransitionForm, act, regions)


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
        _final_update_done(request, incident.pk)

    # The header too: an update posted ends the "update overdue" and "final update" hints.
    return _form_action(
        request, pk, UpdateForm, "update_form", {HEADER, TIMELINE, UPDATE_FORM}, act, "Update posted."
    )


@login_required
@require_POST
def skip_final_update(request: HttpRequest, pk: int) -> HttpResponse:
    """Skip the final customer update the page asked for on resolve: it is not asked again for this incident."""
    _get_incident(request, pk)
    _final_update_done(request, pk)
    return _finish(request, pk, {HEADER, UPDATE_FORM})


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


# --- The timeline alone, and its export ----------------------------------------------------------------------


def timeline_page(request: HttpRequest, incident: Incident) -> HttpResponse:
    """The timeline as a page of its own (opened from a link or a bookmark, not by htmx): styled, with the
    incident's title, the way back and the export links."""
    ctx = _region_context(request, incident, {TIMELINE})
    ctx["standalone"] = True
    ctx["as_of"] = timezone.now()
    return render(request, "incidents/timeline_page.html", ctx)


def _entry_sentence(entry) -> str:
    """What the timeline row says after the actor ("changed the status Triage → Investigating"), as plain text:
    the kind's own template rendered, its markup dropped, so a wing's kinds export as they show."""
    if not entry.template:
        return entry.label.lower()
    html = get_template(entry.template).render({"entry": entry, "event": entry.event, "d": entry.data})
    # Adjacent elements (a chip, an arrow, a chip) read as separate words.
    return " ".join(unescape(strip_tags(html.replace("><", "> <"))).split())


def _entry_actor(event) -> str:
    if event.via and not event.actor_id:
        return event.via
    return muster_tags.display_name(event.actor)


def _export_changes(entry) -> str:
    changes = entry.data.get("changes")
    if not isinstance(changes, dict):
        return ""
    return "; ".join(
        f"{FIELD_LABELS.get(name, name.replace('_', ' ').capitalize())}: "
        f"{show_value(change.get('old'), None)} → {show_value(change.get('new'), None)}"
        for name, change in changes.items()
        if isinstance(change, dict)
    )


def _export_rows(incident: Incident) -> list[dict]:
    """The timeline as the incident page shows it to this person (same selector, same visibility), one plain
    dict per event."""
    severities = list(selectors.severity_list())
    entries = timeline_entries(
        selectors.timeline_list(incident=incident), {"severities": {s.slug: s for s in severities}}
    )
    rows = []
    for entry in entries:
        event = entry.event
        source = "" if event.source == Source.WEB else event.get_source_display()
        rows.append(
            {
                "time": event.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "iso": event.occurred_at.astimezone(UTC).isoformat(),
                "kind": event.kind,
                "label": entry.label,
                "actor": _entry_actor(event),
                "source": source,
                "sentence": _entry_sentence(entry),
                "changes": _export_changes(entry),
                "text": event.text or "",
            }
        )
    return rows


def _attachment(body: str, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # The export holds the incident's notes: never kept by a browser or a proxy.
    response["Cache-Control"] = "no-store"
    return response


#: The first characters that make a spreadsheet read a cell as a formula (or hide what follows).
CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def csv_cell(value) -> str:
    """A CSV cell a spreadsheet shows as text: one starting like a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(CSV_FORMULA_START) else text


#: The characters that make Markdown (CommonMark and GitHub's) build something anywhere in a line: links, images,
#: HTML, code, emphasis, tables. Each is backslash-escaped in user text (CommonMark reads a backslash before any ASCII
#: punctuation as that character).
MARKDOWN_INLINE = re.compile(r"([\\`*_{}\[\]()#!|<>&~])")
#: What builds a block only at the start of a line: a list item, a quote, a setext heading or a rule.
MARKDOWN_LINE_START = re.compile(r"^([-+=>]|\d+[.)])")


def md_escape(value) -> str:
    """``value`` as literal Markdown text on one line: no link, image, HTML, heading, list or emphasis can come
    out of it."""
    text = " ".join(("" if value is None else str(value)).split())
    text = MARKDOWN_INLINE.sub(r"\\\1", text)
    return MARKDOWN_LINE_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text)


def md_quote(value) -> str:
    """Multi-line user text as a Markdown block quote, each line escaped."""
    lines = str(value or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(f"  > {md_escape(line)}".rstrip() for line in lines)


@login_required
@require_GET
def timeline_export(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The incident's timeline as Markdown or CSV, for the postmortem or the ticket: permission-checked like the
    incident page (a private incident is a 404 to whoever may not see it), times in UTC."""
    incident = _get_incident(request, pk)
    rows = _export_rows(incident)
    filename = f"incident-{incident.pk}-timeline.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["time_utc", "kind", "actor", "source", "what", "changes", "text"])
        for row in rows:
            writer.writerow(
                [
                    csv_cell(row[key])
                    for key in ("iso", "kind", "actor", "source", "sentence", "changes", "text")
                ]
            )
        return _attachment(out.getvalue(), "text/csv; charset=utf-8", filename)
    lead = selectors.incident_lead(incident)
    lines = [
        f"# {md_escape(incident.reference)} {md_escape(incident.title)}",
        "",
        f"- Severity: {md_escape(incident.severity.name)}",
        f"- Status: {md_escape(incident.get_status_display())}",
        f"- Team: {md_escape(incident.team.name) if incident.team_id else 'none'}",
        f"- Lead: {md_escape(muster_tags.display_name(lead)) if lead else 'none'}",
        f"- Declared: {md_escape(incident.declared_at.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S UTC'))}",
        f"- Exported: {md_escape(timezone.now().astimezone(UTC).strftime('%Y-%m-%d %H:%M:%S UTC'))}"
        f" by {md_escape(muster_tags.display_name(request.user))}",
        "",
        "## Timeline",
        "",
        "All times are UTC.",
        "",
    ]
    for row in rows:
        source = f" _via {md_escape(row['source'])}_" if row["source"] else ""
        lines.append(
            f"- **{md_escape(row['time'])}** {md_escape(row['actor'])} {md_escape(row['sentence'])}{source}"
        )
        if row["changes"]:
            lines.append(f"  - {md_escape(row['changes'])}")
        if row["text"]:
            lines.append("")
            lines.append(md_quote(row["text"]))
            lines.append("")
    if not rows:
        lines.append("Nothing has happened yet.")
    return _attachment("\n".join(lines).rstrip() + "\n", "text/markdown; charset=utf-8", filename)


# --- The quick switcher --------------------------------------------------------------------------------------

SWITCHER_LIMIT = 8
SWITCHER_QUERY_MAX = 200


def _switcher_number(text: str) -> int | None:
    """The incident id in "42", "#42", "INC-42" or "inc42", or None."""
    text = text.strip().lstrip("#")
    if text.isascii() and text.isdecimal():
        return to_id(text)
    return selectors.parse_reference(text)


def _switcher_matches(user, text: str) -> list[Incident]:
    """The incidents ``user`` may see that ``text`` names: the one with that number first, then those whose
    title holds every word, open ones first, newest first."""
    text = text.strip()
    if not text:
        return []
    base = selectors.incident_visible_queryset(user=user).select_related("severity")
    found: list[Incident] = []
    number = _switcher_number(text)
    if number is not None:
        found.extend(base.filter(pk=number))
    words = text.split()[:6]
    qs = base.exclude(pk__in=[i.pk for i in found])
    for word in words:
        qs = qs.filter(title__icontains=word)
    open_first = Case(
        When(status__in=[s.value for s in state.OPEN_STATUSES], then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    found.extend(qs.annotate(closed=open_first).order_by("closed", "-declared_at", "-pk")[:SWITCHER_LIMIT])
    return found[:SWITCHER_LIMIT]


def _switcher_query(request: HttpRequest) -> str | None:
    text = request.GET.get("q", "")
    return None if len(text) > SWITCHER_QUERY_MAX or "\x00" in text else text


@login_required
@require_GET
def switcher_suggest(request: HttpRequest) -> HttpResponse:
    """Suggestions of the quick switcher as JSON: the incidents the person may see that the text names."""
    text = _switcher_query(request)
    if text is None:
        return JsonResponse(
            {"detail": f"Search for at most {SWITCHER_QUERY_MAX} characters.", "code": "invalid"}, status=400
        )
    results = [
        {
            "id": incident.pk,
            "reference": incident.reference,
            "title": incident.title,
            "status": incident.status,
            "status_label": incident.get_status_display(),
            "severity": incident.severity.name,
            "severity_colour": muster_tags.safe_colour(incident.severity.colour),
            "private": incident.private,
            "url": incident.get_absolute_url(),
        }
        for incident in _switcher_matches(request.user, text)
    ]
    search_url = reverse("incidents:list") + "?" + urlencode({"q": text.strip()})
    response = JsonResponse({"query": text, "results": results, "search_url": search_url})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def switcher_go(request: HttpRequest) -> HttpResponse:
    """Where the quick switcher's form goes without JavaScript (and on Enter before a suggestion is chosen): an
    incident number the person may see opens that incident; anything else is the incident list's search."""
    text = (_switcher_query(request) or "").strip()
    if not text:
        return redirect("incidents:list")
    number = _switcher_number(text)
    if (
        number is not None
        and selectors.incident_visible_queryset(user=request.user).filter(pk=number).exists()
    ):
        return redirect("incidents:detail", pk=number)
    return redirect(reverse("incidents:list") + "?" + urlencode({"q": text}))
