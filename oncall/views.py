"""On-call web UI: who is on call (now or at a chosen time), a schedule's next 14 days, the rotation editor with a
preview before saving, my shifts with my calendar feed, and the secret iCal feeds (no login)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.errors import DomainError
from core.forms import add_domain_error
from oncall import ical, selectors, services
from oncall.models import Rotation
from teams import selectors as team_selectors

PREVIEW_DAYS = selectors.PREVIEW_DAYS


def _schedule_or_404(pk: int):
    schedule = selectors.schedule_get(pk=pk)
    if schedule is None:
        raise Http404("No such schedule.")
    return schedule


def _parse_at(value: str | None) -> datetime | None:
    """A ``datetime-local`` value (read as UTC) or an ISO 8601 instant; None when blank or malformed."""
    value = (value or "").strip()[:40]
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        parsed = parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    if not services.EARLIEST.year <= parsed.year < services.LATEST.year:
        return None
    return parsed


def _rows(timeline):
    """Shifts and gaps of a timeline in time order, for the tables."""
    rows = [{"kind": "shift", "shift": sh, "start": sh.start, "end": sh.end} for sh in timeline.shifts]
    rows += [{"kind": "gap", "start": g.start, "end": g.end} for g in timeline.gaps]
    rows.sort(key=lambda r: r["start"])
    for r in rows:
        r["hours"] = round((r["end"] - r["start"]).total_seconds() / 3600, 1)
    return rows


# --- Who is on call ----------------------------------------------------------------------------------------


@login_required
@require_GET
def oncall_index(request: HttpRequest) -> HttpResponse:
    """Who is on call on every team, now or at ``?at=``."""
    at_raw = request.GET.get("at", "")
    at = _parse_at(at_raw)
    invalid_at = bool(at_raw.strip()) and at is None
    at = at or timezone.now()
    teams = list(team_selectors.team_list().order_by("name"))
    by_team = selectors.teams_oncall_entries(teams, at)
    rows = [{"team": t, "entries": by_team.get(t.pk, [])} for t in teams]
    return render(
        request,
        "oncall/index.html",
        {"rows": rows, "at": at, "at_value": at.strftime("%Y-%m-%dT%H:%M"), "invalid_at": invalid_at},
    )


class ScheduleForm(forms.Form):
    name = forms.CharField(max_length=services.NAME_MAX)
    time_zone = forms.CharField(max_length=64, initial="UTC", help_text="IANA, e.g. Europe/London.")


@login_required
def team_oncall(request: HttpRequest, slug: str) -> HttpResponse:
    team = team_selectors.team_get(slug=slug)
    if team is None:
        raise Http404("No such team.")
    can_edit = services.can_edit_schedules(request.user, team)
    form = ScheduleForm(initial={"time_zone": "UTC"}) if can_edit else None
    if request.method == "POST":
        form = ScheduleForm(request.POST)
        if form.is_valid():
            try:
                schedule = services.schedule_create(actor=request.user, team=team, **form.cleaned_data)
            except DomainError as exc:
                if exc.status_code == 403:
                    messages.error(request, exc.message)
                    return redirect("oncall:team", slug=team.slug)
                add_domain_error(form, exc)
            else:
                messages.success(request, f"Schedule '{schedule.name}' created: add its first rotation.")
                return redirect("oncall:rotation_new", pk=schedule.pk)
        if not can_edit:
            form = None
    at_raw = request.GET.get("at", "")
    at = _parse_at(at_raw)
    invalid_at = bool(at_raw.strip()) and at is None
    at = at or timezone.now()
    return render(
        request,
        "oncall/team.html",
        {
            "team": team,
            "entries": selectors.team_oncall_entries(team, at),
            "at": at,
            "at_value": at.strftime("%Y-%m-%dT%H:%M"),
            "invalid_at": invalid_at,
            "can_edit": can_edit,
            "form": form,
        },
    )


# --- A schedule ---------------------------------------------------------------------------------------------


@login_required
def schedule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _schedule_or_404(pk)
    now = timezone.now().replace(second=0, microsecond=0)
    timeline = selectors.schedule_timeline(schedule, now, now + timedelta(days=PREVIEW_DAYS))
    return render(
        request,
        "oncall/schedule.html",
        {
            "schedule": schedule,
            "rows": _rows(timeline),
            "timeline": timeline,
            "overrides": selectors.override_list(schedule=schedule, start=now)[:50],
            "can_edit": services.can_edit_schedules(request.user, schedule.team),
            # The secret feed URL only for those who may reset it; the others use their personal feed.
            "ical_url": request.build_absolute_uri(
                reverse("oncall:ical_schedule", args=[schedule.ical_token])
            )
            if services.can_reset_feed(request.user, schedule)
            else None,
            "days": PREVIEW_DAYS,
        },
    )


# --- The rotation editor, with a preview ----------------------------------------------------------------------


class RotationForm(forms.Form):
    name = forms.CharField(max_length=services.NAME_MAX)
    layer = forms.IntegerField(min_value=1, max_value=services.LAYER_MAX, initial=1, help_text="Higher wins.")
    time_zone = forms.CharField(max_length=64, initial="UTC", help_text="IANA, e.g. Europe/London.")
    start_date = forms.DateField(
        widget=forms.DateInput(attrs={"type": "date"}), help_text="The first hand-off."
    )
    handoff_time = forms.TimeField(widget=forms.TimeInput(attrs={"type": "time"}), help_text="Local time.")
    period = forms.ChoiceField(choices=Rotation.Period.choices, initial=Rotation.Period.WEEKLY)
    period_hours = forms.IntegerField(
        required=False, min_value=1, max_value=services.PERIOD_HOURS_MAX, help_text="Custom rotations only."
    )
    ends_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    members = forms.CharField(
        max_length=5000, help_text="Usernames in hand-off order, separated by commas or spaces."
    )
    restrictions = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text='Optional JSON, e.g. [{"days": [0,1,2,3,4], "start": "09:00", "end": "17:00"}] (Monday = 0).',
    )

    def clean_members(self):
        names = [n for n in self.cleaned_data["members"].replace(",", " ").split() if n]
        users, unknown = [], []
        for name in names:
            user = team_selectors.user_get(username=name[:150])
            (users if user else unknown).append(user or name)
        if unknown:
            raise forms.ValidationError(f"Unknown users: {', '.join(n[:40] for n in unknown[:5])}.")
        if not users:
            raise forms.ValidationError("At least one person.")
        return users

    def clean_restrictions(self):
        raw = (self.cleaned_data.get("restrictions") or "").strip()
        if not raw:
            return []
        try:
            return json.loads(raw)
        except (ValueError, RecursionError):
            raise forms.ValidationError("Not valid JSON.") from None


def _rotation_initial(rotation: Rotation) -> dict:
    return {
        "name": rotation.name,
        "layer": rotation.layer,
        "time_zone": rotation.time_zone,
        "start_date": rotation.start_date,
        "handoff_time": rotation.handoff_time,
        "period": rotation.period,
        "period_hours": rotation.period_hours,
        "ends_on": rotation.ends_on,
        "members": " ".join(m.user.get_username() for m in rotation.members.all()),
        "restrictions": json.dumps(rotation.restrictions) if rotation.restrictions else "",
    }


@login_required
def rotation_edit(request: HttpRequest, pk: int, rid: int | None = None) -> HttpResponse:
    schedule = _schedule_or_404(pk)
    rotation = None
    if rid is not None:
        rotation = selectors.rotation_get(schedule=schedule, pk=rid)
        if rotation is None:
            raise Http404("No such rotation.")
    can_edit = services.can_edit_schedules(request.user, schedule.team)
    preview = None
    if request.method == "POST":
        if not can_edit:
            messages.error(request, "Only the team's leads and admins may change its schedules.")
            return redirect("oncall:schedule", pk=schedule.pk)
        if request.POST.get("delete") and rotation is not None:
            try:
                services.rotation_delete(actor=request.user, rotation=rotation)
            except DomainError as exc:
                messages.error(request, exc.message)
                return redirect("oncall:schedule", pk=schedule.pk)
            messages.success(request, f"Rotation '{rotation.name}' deleted.")
            return redirect("oncall:schedule", pk=schedule.pk)
        form = RotationForm(request.POST)
        if form.is_valid():
            values = dict(form.cleaned_data)
            members = values.pop("members")
            try:
                if request.POST.get("preview"):
                    preview = services.rotation_preview(
                        schedule=schedule, rotation=rotation, members=members, days=PREVIEW_DAYS, **values
                    )
                elif rotation is None:
                    services.rotation_create(actor=request.user, schedule=schedule, members=members, **values)
                    messages.success(request, f"Rotation '{values['name']}' added.")
                    return redirect("oncall:schedule", pk=schedule.pk)
                else:
                    services.rotation_update(actor=request.user, rotation=rotation, members=members, **values)
                    messages.success(request, f"Rotation '{values['name']}' saved.")
                    return redirect("oncall:schedule", pk=schedule.pk)
            except DomainError as exc:
                add_domain_error(form, exc)
    else:
        form = RotationForm(
            initial=_rotation_initial(rotation)
            if rotation
            else {
                "time_zone": schedule.time_zone,
                "start_date": timezone.now().date(),
                "handoff_time": "09:00",
            }
        )
    return render(
        request,
        "oncall/rotation_form.html",
        {
            "schedule": schedule,
            "rotation": rotation,
            "form": form,
            "can_edit": can_edit,
            "preview_rows": _rows(preview) if preview is not None else None,
            "preview": preview,
            "days": PREVIEW_DAYS,
        },
    )


class OverrideForm(forms.Form):
    user = forms.CharField(max_length=150, help_text="Username of who covers.")
    starts_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC."
    )
    ends_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}), help_text="UTC."
    )
    note = forms.CharField(max_length=services.NOTE_MAX, required=False)

    def clean_user(self):
        user = team_selectors.user_get(username=self.cleaned_data["user"])
        if user is None:
            raise forms.ValidationError("Unknown user.")
        return user

    def clean(self):
        data = super().clean()
        for name in ("starts_at", "ends_at"):
            if data.get(name) is not None:
                data[name] = data[name].replace(tzinfo=UTC) if timezone.is_naive(data[name]) else data[name]
        return data


@login_required
def override_create(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _schedule_or_404(pk)
    can_edit = services.can_edit_schedules(request.user, schedule.team)
    if request.method == "POST":
        form = OverrideForm(request.POST)
        if not can_edit:
            messages.error(request, "Only the team's leads and admins may change its schedules.")
            return redirect("oncall:schedule", pk=schedule.pk)
        if form.is_valid():
            try:
                services.override_create(actor=request.user, schedule=schedule, **form.cleaned_data)
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, "Override added.")
                return redirect("oncall:schedule", pk=schedule.pk)
    else:
        now = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        form = OverrideForm(
            initial={
                "starts_at": now.strftime("%Y-%m-%dT%H:%M"),
                "ends_at": (now + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"),
            }
        )
    return render(
        request, "oncall/override_form.html", {"schedule": schedule, "form": form, "can_edit": can_edit}
    )


@login_required
@require_POST
def schedule_reset_feed(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = _schedule_or_404(pk)
    try:
        services.schedule_reset_token(actor=request.user, schedule=schedule)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The schedule's calendar feed has a new URL; the old one no longer works.")
    return redirect("oncall:schedule", pk=schedule.pk)


@login_required
@require_POST
def override_delete(request: HttpRequest, pk: int, oid: int) -> HttpResponse:
    schedule = _schedule_or_404(pk)
    override = selectors.override_get(schedule=schedule, pk=oid)
    if override is None:
        raise Http404("No such override.")
    try:
        services.override_delete(actor=request.user, override=override)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Override removed.")
    return redirect("oncall:schedule", pk=schedule.pk)


# --- My shifts and my feed -------------------------------------------------------------------------------------


@login_required
@require_GET
def my_shifts(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    feed = selectors.calendar_feed_find(user=request.user)  # a GET never creates it
    shifts = selectors.user_shifts(request.user, now, now + timedelta(days=30))
    return render(
        request,
        "oncall/my_shifts.html",
        {
            "shifts": shifts,
            "now": now,
            "feed_url": request.build_absolute_uri(reverse("oncall:ical_user", args=[feed.token]))
            if feed
            else "",
            "schedules": selectors.user_schedules(request.user),
        },
    )


@login_required
@require_POST
def feed_reset(request: HttpRequest) -> HttpResponse:
    had_one = selectors.calendar_feed_find(user=request.user) is not None
    services.calendar_feed_reset(user=request.user)
    messages.success(
        request,
        "Your calendar feed has a new URL; the old one no longer works."
        if had_one
        else "Your calendar feed is ready: subscribe to its URL below.",
    )
    return redirect("oncall:my_shifts")


# --- iCal feeds (no login: the secret token is the key) --------------------------------------------------------


def _event(schedule, shift) -> ical.FeedEvent:
    user = shift.user
    return ical.FeedEvent(
        schedule_id=schedule.pk,
        schedule_name=schedule.name,
        user_id=user.pk,
        username=user.get_username(),
        name=user.get_full_name() or user.get_username(),
        email=user.email or "",
        start=shift.start,
        end=shift.end,
        override=shift.is_override,
    )


def _calendar_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_GET
def ical_schedule(request: HttpRequest, token: str) -> HttpResponse:
    schedule = selectors.schedule_by_token(token)
    if schedule is None:
        raise Http404("No such feed.")
    now = timezone.now()
    events = [_event(schedule, sh) for sh in selectors.schedule_feed_shifts(schedule, now)]
    body = ical.render(
        events, title=f"On call: {schedule.team.name} / {schedule.name}", now=now, per_person=False
    )
    return _calendar_response(body, f"oncall-{schedule.slug}.ics")


@require_GET
def ical_user(request: HttpRequest, token: str) -> HttpResponse:
    feed = selectors.feed_by_token(token)
    if feed is None:
        raise Http404("No such feed.")
    now = timezone.now()
    events = [_event(us.schedule, us.shift) for us in selectors.user_feed_shifts(feed.user, now)]
    name = feed.user.get_full_name() or feed.user.get_username()
    body = ical.render(events, title=f"On call: {name}", now=now, per_person=True)
    return _calendar_response(body, "oncall-my-shifts.ics")
