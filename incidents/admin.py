"""The incident admin for support leads. Every write goes through ``incidents.services`` with ``source="admin"``, so
the timeline records admin changes like any other; private incidents stay invisible to those who may not see them.

Stale pages: the change form and the actions' confirmation page carry the version of each incident they were
rendered with (``Incident.version``), and the services refuse a save or an action when what it changes has changed
since (``StaleState``: "Bob Okafor became incident lead 2 min ago"). The refusal is an admin message; nothing is
changed. A refused change form is shown again with the user's input and the current version, so that saving it
again is a choice made knowing what changed.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes import views as contenttypes_views
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch
from django.utils.html import format_html
from django.utils.text import Truncator

from core.admin import (
    DomainErrorsAdminMixin,
    HiddenAsNotFoundMixin,
    ReadOnlyInline,
    SafeActionIdsMixin,
    copy_saved,
)
from core.errors import DomainError, StaleState
from incidents import permissions, selectors, services, state
from incidents.models import (
    ConsumerRun,
    Incident,
    Role,
    RoleAssignment,
    Severity,
    Source,
    TimelineEvent,
)
from teams.selectors import assignable_user_list

reference_pk = selectors.parse_reference


def severity_chip(severity: Severity | None) -> str:
    if severity is None:
        return "-"
    return format_html(
        '<span style="display:inline-block;padding:0 .5em;border-radius:.75em;color:#fff;background:{}">{}</span>',
        severity.colour,
        severity.name,
    )


# --- Visibility: every admin whose rows point at an incident --------------------------------------------


class IncidentVisibleAdminMixin:
    """Rows of private incidents stay invisible in the admin to those who may not see the incident.

    ``incident_path`` is the lookup from the admin's model to its incident (``"incident"``, ``"event__incident"``;
    ``""`` for ``Incident`` itself). The filter applies to ``get_queryset``, so to the changelist, its search and
    counts, and the change, history and delete views (a 404 with ``HiddenAsNotFoundMixin``). Incident choices in
    forms (select boxes, and the autocomplete, which reads the incident admin's queryset) list only visible
    incidents. Rows tied to no incident stay visible when ``incident_optional`` is set. Works on inlines too.
    """

    incident_path = "incident"
    incident_optional = False

    def incident_visible_q(self, request) -> Q:
        prefix = f"{self.incident_path}__" if self.incident_path else ""
        q = permissions.visible_q(request.user, prefix=prefix)
        if self.incident_optional and self.incident_path:
            q = Q(**{f"{self.incident_path}__isnull": True}) | (
                Q(**{f"{self.incident_path}__isnull": False}) & q
            )
        return q

    def get_queryset(self, request):
        return super().get_queryset(request).filter(self.incident_visible_q(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Incident:
            kwargs["queryset"] = selectors.incident_visible_queryset(user=request.user)
        elif "queryset" not in kwargs:
            related_admin = self.admin_site._registry.get(db_field.related_model)
            if isinstance(related_admin, IncidentVisibleAdminMixin):
                kwargs["queryset"] = related_admin.get_queryset(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.related_model is Incident:
            kwargs["queryset"] = selectors.incident_visible_queryset(user=request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


# --- Inlines ------------------------------------------------------------------------------------------


class TimelineEventInline(IncidentVisibleAdminMixin, ReadOnlyInline):
    """The incident's timeline, oldest first. Immutable: nothing can be added, changed or deleted here."""

    model = TimelineEvent
    fields = ("occurred_at", "kind", "actor", "source", "text", "data")
    ordering = ("occurred_at", "id")
    verbose_name = "timeline event"
    verbose_name_plural = "timeline"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor").order_by("occurred_at", "id")


class RoleAssignmentInline(IncidentVisibleAdminMixin, ReadOnlyInline):
    """Who held which role, and when (hand-offs relieve the previous holder)."""

    model = RoleAssignment
    fk_name = "incident"
    fields = ("role", "user", "assigned_at", "assigned_by", "relieved_at", "relieved_by")
    ordering = ("role__order", "assigned_at")
    verbose_name = "role assignment"
    verbose_name_plural = "roles (history)"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("role", "user", "assigned_by", "relieved_by")
            .order_by("role__order", "assigned_at")
        )


# --- Intermediate forms of the actions ----------------------------------------------------------------


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        full = obj.get_full_name()
        return f"{obj.get_username()} ({full})" if full else obj.get_username()


class AssignRoleForm(forms.Form):
    user = UserChoiceField(queryset=assignable_user_list(), label="User")


class ChangeSeverityForm(forms.Form):
    severity = forms.ModelChoiceField(
        queryset=Severity.objects.none(), label="New severity", empty_label=None
    )
    reason = forms.CharField(
        required=False, max_length=services.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["severity"].queryset = selectors.severity_list()


class TransitionForm(forms.Form):
    to = forms.ChoiceField(
        label="New status",
        choices=[
            ("", "---------"),
            *((s.value, f"{s.label}: {state.ACTION_LABELS[s]}") for s in state.ORDER),
        ],
    )
    reason = forms.CharField(
        required=False, max_length=services.TEXT_MAX, widget=forms.Textarea(attrs={"rows": 3, "cols": 60})
    )


# --- Incident -------------------------------------------------------------------------------------------

#: Where ``save_model`` leaves the current version of an incident whose save was refused as stale.
_CURRENT_VERSION = "_muster_incident_current_version"


class IncidentAdminForm(forms.ModelForm):
    """The change form, with the version of the incident it was rendered with (a hidden field)."""

    shown_version = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Incident
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["shown_version"].initial = self.instance.version


def _version_field(pk) -> str:
    """The name of the confirmation page's hidden input holding an incident's version as shown."""
    return f"version_{pk}"


MILESTONES = (
    "investigating_at",
    "identified_at",
    "monitoring_at",
    "resolved_at",
    "closed_at",
    "declined_at",
)


@admin.register(Incident)
class IncidentAdmin(
    IncidentVisibleAdminMixin, DomainErrorsAdminMixin, HiddenAsNotFoundMixin, admin.ModelAdmin
):
    incident_path = ""
    list_display = (
        "reference",
        "title",
        "severity_chip",
        "status",
        "team",
        "customer_impact",
        "private",
        "lead",
        "declared_at",
    )
    list_display_links = ("reference", "title")
    list_filter = ("status", "severity", "team", "customer_impact", "private", "declared_at")
    list_select_related = ("severity", "team")
    search_fields = ("title", "summary")
    search_help_text = "Words in the title or summary, or a reference such as INC-12."
    date_hierarchy = "declared_at"
    ordering = ("-declared_at", "-id")
    filter_horizontal = ("services",)
    form = IncidentAdminForm
    list_per_page = 50
    actions = ("assign_lead", "assign_messenger", "change_severity", "transition_status")

    add_fieldsets = (
        (
            None,
            {"fields": ("title", "summary", "severity", "team", "services", "customer_impact", "private")},
        ),
    )
    change_fieldsets = (
        (
            None,
            {
                "fields": (
                    "reference",
                    "title",
                    "summary",
                    "team",
                    "services",
                    "customer_impact",
                    "private",
                    "shown_version",
                )
            },
        ),
        (
            "Status and severity",
            {
                "fields": ("status", "severity", "lead", "declared_by", "declared_at"),
                "description": "Status, severity and roles change through the actions on the incident list, "
                "so that each change is checked and recorded on the timeline.",
            },
        ),
        ("Milestones", {"fields": (*MILESTONES, "created_at", "updated_at"), "classes": ("collapse",)}),
    )
    change_readonly_fields = (
        "reference",
        "status",
        "severity",
        "lead",
        "declared_by",
        "declared_at",
        *MILESTONES,
        "created_at",
        "updated_at",
    )

    # -- Visibility and permissions

    def get_queryset(self, request):
        """Only the incidents this user may see (``IncidentVisibleAdminMixin``): absent everywhere else."""
        return super().get_queryset(request).prefetch_related(selectors.current_assignments_prefetch())

    def has_change_permission(self, request, obj=None):
        """Model permission, and for one incident the service-level right to act on it (else it shows read-only)."""
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or permissions.can_act(request.user, obj)

    def has_delete_permission(self, request, obj=None):
        # Incidents are history: a false positive is declined, not deleted. No service deletes incidents.
        return False

    def view_on_site(self, obj):
        try:
            return obj.get_absolute_url()
        except NoReverseMatch:
            return None

    # -- Admin log: the "Recent actions" box outlives a user's access; never keep a private incident's title there.

    def log_addition(self, request, obj, message):
        return self._neutral_log(super().log_addition(request, obj, message), obj)

    def log_change(self, request, obj, message):
        return self._neutral_log(super().log_change(request, obj, message), obj)

    @staticmethod
    def _neutral_log(entry, obj):
        if entry is not None and obj.private:
            LogEntry.objects.filter(pk=entry.pk).update(object_repr=obj.reference)
        return entry

    # -- Columns

    @admin.display(description="Reference", ordering="id")
    def reference(self, obj: Incident) -> str:
        return obj.reference

    @admin.display(description="Severity", ordering="severity__rank")
    def severity_chip(self, obj: Incident) -> str:
        return severity_chip(obj.severity)

    @admin.display(description="Lead")
    def lead(self, obj: Incident) -> str:
        lead = selectors.incident_lead(obj)
        return lead.get_username() if lead else "-"

    # -- Search: words, or a reference

    def get_search_results(self, request, queryset, search_term):
        pk = reference_pk(search_term)
        if pk is not None:
            return queryset.filter(pk=pk), False
        return super().get_search_results(request, queryset, search_term)

    # -- Change form: descriptive fields only; saving goes through the services

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return self.add_fieldsets
        if not self.has_change_permission(request, obj):
            # A read-only page saves nothing, so it carries no version (it would show as an empty row).
            return tuple(
                (name, {**options, "fields": tuple(f for f in options["fields"] if f != "shown_version")})
                for name, options in self.change_fieldsets
            )
        return self.change_fieldsets

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.change_readonly_fields

    def get_inlines(self, request, obj):
        return () if obj is None else (RoleAssignmentInline, TimelineEventInline)

    def get_form(self, request, obj=None, change=False, **kwargs):
        """After a save refused as stale, the form shown again carries the current version (the user has been
        told what changed; saving again applies their input over it)."""
        form_class = super().get_form(request, obj, change, **kwargs)
        current = getattr(request, _CURRENT_VERSION, None)
        if current is None:
            return form_class

        class CurrentVersionForm(form_class):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                if self.is_bound:
                    self.data = self.data.copy()
                    self.data["shown_version"] = str(current)

        CurrentVersionForm.__name__ = form_class.__name__
        return CurrentVersionForm

    def save_model(self, request, obj, form, change):
        """Declare through ``incident_declare``; change the descriptive fields through ``incident_update``.

        The form's cleaned values go to the service, which re-reads the locked row, checks the user may act and
        records what changed on the timeline. A refusal is shown on the form (see ``DomainErrorsAdminMixin``).
        """
        data = form.cleaned_data
        if not change:
            incident = services.incident_declare(
                title=data["title"],
                summary=data.get("summary", ""),
                severity=data["severity"],
                team=data.get("team"),
                services=list(data.get("services") or ()),
                customer_impact=data.get("customer_impact", False),
                private=data.get("private", False),
                actor=request.user,
                source=Source.ADMIN,
            )
            copy_saved(obj, incident)
            return
        changes = {name: data[name] for name in form.changed_data if name in services.UPDATABLE_FIELDS}
        if "services" in changes:
            changes["services"] = list(changes["services"])
        if changes:
            try:
                incident = services.incident_update(
                    incident=obj.pk,
                    actor=request.user,
                    source=Source.ADMIN,
                    expected_version=data.get("shown_version"),
                    **changes,
                )
            except StaleState as exc:
                setattr(request, _CURRENT_VERSION, exc.version)
                raise
            copy_saved(obj, incident)

    def save_related(self, request, form, formsets, change):
        """Nothing to do: services were set by the service in ``save_model`` and the inlines are read-only."""
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    # -- Actions with an intermediate form

    def _confirm_and_apply(
        self,
        request,
        queryset: QuerySet[Incident],
        *,
        action: str,
        title: str,
        form_class: type[forms.Form],
        apply: Callable[[Incident, dict, str | None], object],
        done: Callable[[dict], str],
        show_targets: bool = False,
    ):
        """Django's intermediate-page pattern: show a form for the selected incidents; on "apply", call the service
        once per incident and report each success and refusal. Returning None redirects to the changelist.

        The page carries each incident's version as it showed it (``version_<id>``), and ``apply`` passes it to
        the service as ``expected_version``: an incident whose status, severity or role changed since is refused
        with what changed, by whom, and left as it is. Shown again (an invalid form), the page keeps the versions
        it was first rendered with."""
        shown = {}
        if "apply" in request.POST:
            shown = {i.pk: request.POST.get(_version_field(i.pk)) for i in queryset}
            form = form_class(request.POST)
            if form.is_valid():
                succeeded: list[str] = []
                for incident in queryset.order_by("id"):
                    try:
                        apply(incident, form.cleaned_data, shown.get(incident.pk))
                    except DomainError as exc:
                        self.message_user(request, f"{incident.reference}: {exc}", messages.ERROR)
                    else:
                        succeeded.append(incident.reference)
                if succeeded:
                    self.message_user(
                        request, f"{done(form.cleaned_data)} on {', '.join(succeeded)}.", messages.SUCCESS
                    )
                return None
        else:
            form = form_class()
        rows = [
            (
                i,
                self._targets(i) if show_targets else "",
                _version_field(i.pk),
                shown.get(i.pk) or i.version,
            )
            for i in queryset.order_by("id")
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "form": form,
            "rows": rows,
            "show_targets": show_targets,
            "action": action,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/incidents/incident/action_confirmation.html", context)

    @staticmethod
    def _targets(incident: Incident) -> str:
        return ", ".join(s.label for s in state.allowed_targets(incident.status)) or "nothing (final)"

    def _assign(self, request, queryset, *, role_slug: str, action: str):
        role = Role.objects.filter(slug=role_slug).first()
        role_name = role.name if role else role_slug
        return self._confirm_and_apply(
            request,
            queryset,
            action=action,
            title=f"Assign {role_name.lower()}",
            form_class=AssignRoleForm,
            apply=lambda incident, data, version: services.incident_assign_role(
                incident=incident,
                role=role_slug,
                user=data["user"],
                actor=request.user,
                source=Source.ADMIN,
                expected_version=version,
            ),
            done=lambda data: f"Assigned {data['user'].get_username()} as {role_name.lower()}",
        )

    @admin.action(description="Assign incident lead…", permissions=["change"])
    def assign_lead(self, request, queryset):
        return self._assign(request, queryset, role_slug="lead", action="assign_lead")

    @admin.action(description="Assign messenger…", permissions=["change"])
    def assign_messenger(self, request, queryset):
        return self._assign(request, queryset, role_slug="messenger", action="assign_messenger")

    @admin.action(description="Change severity…", permissions=["change"])
    def change_severity(self, request, queryset):
        return self._confirm_and_apply(
            request,
            queryset,
            action="change_severity",
            title="Change severity",
            form_class=ChangeSeverityForm,
            apply=lambda incident, data, version: services.incident_change_severity(
                incident=incident,
                severity=data["severity"],
                reason=data["reason"],
                actor=request.user,
                source=Source.ADMIN,
                expected_version=version,
            ),
            done=lambda data: f"Changed severity to {data['severity'].name}",
        )

    @admin.action(description="Transition status…", permissions=["change"])
    def transition_status(self, request, queryset):
        return self._confirm_and_apply(
            request,
            queryset,
            action="transition_status",
            title="Transition status",
            form_class=TransitionForm,
            apply=lambda incident, data, version: services.incident_transition(
                incident=incident,
                to=data["to"],
                reason=data["reason"],
                actor=request.user,
                source=Source.ADMIN,
                expected_version=version,
            ),
            done=lambda data: f"Moved to {state.Status(data['to']).label}",
            show_targets=True,
        )


# --- Reference data --------------------------------------------------------------------------------------


@admin.register(Severity)
class SeverityAdmin(SafeActionIdsMixin, admin.ModelAdmin):
    list_display = ("rank", "name", "slug", "swatch", "uses_incident_process")
    list_display_links = ("rank", "name")
    ordering = ("rank",)
    search_fields = ("name", "slug")
    fields = ("name", "slug", "rank", "colour", "description", "uses_incident_process")

    @admin.display(description="Colour")
    def swatch(self, obj: Severity) -> str:
        return format_html(
            '<span style="display:inline-block;width:1.5em;height:1em;vertical-align:middle;'
            'border:1px solid #0003;background:{}"></span> <code>{}</code>',
            obj.colour,
            obj.colour,
        )

    def get_readonly_fields(self, request, obj=None):
        # Code and integrations refer to severities by slug ("critical"): fixed once created.
        return ("slug",) if obj is not None else ()

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ("name",)} if obj is None else {}


@admin.register(Role)
class RoleAdmin(SafeActionIdsMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "order", "active")
    list_filter = ("active",)
    ordering = ("order", "name")
    search_fields = ("name", "slug")
    fields = ("name", "slug", "order", "active", "description")

    def get_readonly_fields(self, request, obj=None):
        # Services and the web UI refer to roles by slug ("lead", "messenger").
        return ("slug",) if obj is not None else ()

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ("name",)} if obj is None else {}


# --- Timeline, role history, consumer runs: read-only, filtered by visibility ----------------------------


class IncidentReferenceSearchMixin:
    """Search rows of an incident by its reference ("INC-12") as well as by the search fields."""

    incident_lookup = "incident_id"

    def get_search_results(self, request, queryset, search_term):
        pk = reference_pk(search_term)
        if pk is not None:
            return queryset.filter(**{self.incident_lookup: pk}), False
        return super().get_search_results(request, queryset, search_term)


class ReadOnlyModelAdmin(SafeActionIdsMixin, HiddenAsNotFoundMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TimelineEvent)
class TimelineEventAdmin(IncidentVisibleAdminMixin, IncidentReferenceSearchMixin, ReadOnlyModelAdmin):
    """Every event on every visible incident. Immutable: view only."""

    list_display = ("occurred_at", "incident_reference", "kind", "actor", "source", "short_text")
    list_filter = ("kind", "source", "occurred_at")
    list_select_related = ("incident", "actor")
    search_fields = ("text", "incident__title")
    search_help_text = "Words in the event text or the incident title, or a reference such as INC-12."
    date_hierarchy = "occurred_at"
    ordering = ("-occurred_at", "-id")
    fields = ("incident", "kind", "actor", "source", "occurred_at", "text", "data")

    @admin.display(description="Incident", ordering="incident_id")
    def incident_reference(self, obj: TimelineEvent) -> str:
        return Incident.reference_for(obj.incident_id)

    @admin.display(description="Text")
    def short_text(self, obj: TimelineEvent) -> str:
        return Truncator(obj.text).chars(80)


@admin.register(RoleAssignment)
class RoleAssignmentAdmin(IncidentVisibleAdminMixin, IncidentReferenceSearchMixin, ReadOnlyModelAdmin):
    """Role history across visible incidents. Roles change through the incident actions."""

    list_display = ("incident_reference", "role", "user", "assigned_at", "relieved_at", "current")
    list_filter = ("role", "assigned_at")
    list_select_related = ("incident", "role", "user")
    search_fields = ("user__username", "incident__title")
    search_help_text = "A username or words in the incident title, or a reference such as INC-12."
    ordering = ("-assigned_at", "-id")
    fields = ("incident", "role", "user", "assigned_at", "assigned_by", "relieved_at", "relieved_by")

    @admin.display(description="Incident", ordering="incident_id")
    def incident_reference(self, obj: RoleAssignment) -> str:
        return Incident.reference_for(obj.incident_id)

    @admin.display(description="Current", boolean=True)
    def current(self, obj: RoleAssignment) -> bool:
        return obj.is_current


@admin.register(ConsumerRun)
class ConsumerRunAdmin(
    IncidentVisibleAdminMixin,
    IncidentReferenceSearchMixin,
    DomainErrorsAdminMixin,
    HiddenAsNotFoundMixin,
    admin.ModelAdmin,
):
    """The reactions of the wings to timeline events. Read-only; failed runs can be retried."""

    incident_lookup = "event__incident_id"
    incident_path = "event__incident"
    list_display = (
        "id",
        "consumer",
        "event_summary",
        "status",
        "attempts",
        "short_error",
        "next_attempt_at",
        "finished_at",
    )
    list_filter = ("status", "consumer")
    list_select_related = ("event",)
    search_fields = ("consumer", "last_error")
    search_help_text = "A consumer name or words of the error, or a reference such as INC-12."
    ordering = ("-id",)
    fields = (
        "event",
        "consumer",
        "status",
        "attempts",
        "created_at",
        "next_attempt_at",
        "finished_at",
        "last_error",
    )
    readonly_fields = fields
    actions = ("retry_failed",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The change permission allows the retry action; one run's page is view-only (a worker owns the row).
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Without its run, a consumer would never react to the event.
        return False

    @admin.display(description="Event", ordering="event_id")
    def event_summary(self, obj: ConsumerRun) -> str:
        return f"{obj.event.kind_label} on {Incident.reference_for(obj.event.incident_id)}"

    @admin.display(description="Last error")
    def short_error(self, obj: ConsumerRun) -> str:
        return Truncator(obj.last_error).chars(100)

    @admin.action(description="Retry failed runs", permissions=["change"])
    def retry_failed(self, request, queryset):
        runs = list(queryset.values_list("id", "status"))
        failed = [pk for pk, status in runs if status == ConsumerRun.Status.FAILED]
        retried = 0
        for pk in failed:
            try:
                services.consumer_run_retry(run_id=pk)
            except DomainError as exc:
                self.message_user(request, f"Run {pk}: {exc}", messages.ERROR)
            else:
                retried += 1
        if retried:
            self.message_user(request, f"Retried {retried} failed run(s).", messages.SUCCESS)
        skipped = len(runs) - len(failed)
        if skipped:
            self.message_user(request, f"Skipped {skipped} run(s) that had not failed.", messages.WARNING)


def view_on_site_shortcut(request, content_type_id, object_id):
    """Django's admin "view on site" redirect (``/admin/r/<ct>/<id>/``), but an incident the user may not see
    is a 404 there too, like everywhere else: the stock view would tell a hidden incident from a missing one."""
    if ContentType.objects.get_for_model(Incident).pk == content_type_id:
        incident = Incident.objects.filter(pk=object_id).first() if str(object_id).isdecimal() else None
        if incident is None or not permissions.can_view(request.user, incident):
            raise Http404("No such incident.")
    return contenttypes_views.shortcut(request, content_type_id, object_id)
