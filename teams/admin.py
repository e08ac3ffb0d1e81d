"""Teams, memberships and the services catalog. Writes go through ``teams.services`` where one exists, so the admin
checks the same rights (team leads and admins manage their team) as every other entrance."""

from django.contrib import admin
from django.db.models import Count

from core.admin import DomainErrorsAdminMixin, copy_saved
from teams import services
from teams.models import Membership, Service, Team


def _save_membership_form(form, *, team: Team, actor) -> Membership:
    """Add or change one membership through ``membership_set``; a new user on an existing row is a hand-over."""
    old_user_id = form.initial.get("user") if form.instance.pk else None
    user = form.cleaned_data["user"]
    if old_user_id is not None and old_user_id != user.pk:
        services.membership_remove(
            team=team, user=Membership.objects.get(pk=form.instance.pk).user, actor=actor
        )
    return services.membership_set(team=team, user=user, role=form.cleaned_data["role"], actor=actor)


class MembershipInline(admin.TabularInline):
    model = Membership
    fields = ("user", "role")
    extra = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


class ServiceInline(admin.TabularInline):
    model = Service
    fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    extra = 0
    show_change_link = True

    # Incidents and routing refer to services by slug: it is set once, when the service is added.
    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Team)
class TeamAdmin(DomainErrorsAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "member_count", "service_count")
    search_fields = ("name", "slug")
    ordering = ("name",)
    fields = ("name", "slug", "description")
    inlines = (MembershipInline, ServiceInline)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _member_count=Count("memberships", distinct=True),
                _service_count=Count("services", distinct=True),
            )
        )

    @admin.display(description="Members", ordering="_member_count")
    def member_count(self, obj: Team) -> int:
        return obj._member_count

    @admin.display(description="Services", ordering="_service_count")
    def service_count(self, obj: Team) -> int:
        return obj._service_count

    def get_readonly_fields(self, request, obj=None):
        # Incidents, filters and integrations refer to teams by slug.
        return ("slug",) if obj is not None else ()

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ("name",)} if obj is None else {}

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            services.team_update(
                team=obj, name=data["name"], description=data["description"], actor=request.user
            )
        else:
            team = services.team_create(
                name=data["name"], slug=data["slug"], description=data["description"], actor=request.user
            )
            copy_saved(obj, team)

    def save_formset(self, request, form, formset, change):
        if formset.model is Membership:
            self._save_memberships(request, form.instance, formset)
        elif formset.model is Service:
            self._save_services(request, form.instance, formset)
        else:  # pragma: no cover - no other inline
            super().save_formset(request, form, formset, change)

    def _save_memberships(self, request, team: Team, formset) -> None:
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for form in formset.deleted_forms:
            if form.instance.pk:
                services.membership_remove(team=team, user=form.instance.user, actor=request.user)
                formset.deleted_objects.append(form.instance)
        for form in formset.forms:
            if form in formset.deleted_forms or not form.has_changed():
                continue
            membership = _save_membership_form(form, team=team, actor=request.user)
            if form.instance.pk:
                formset.changed_objects.append((membership, form.changed_data))
            else:
                formset.new_objects.append(membership)

    def _save_services(self, request, team: Team, formset) -> None:
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for form in formset.deleted_forms:
            if form.instance.pk:
                services.service_delete(service=form.instance, actor=request.user)
                formset.deleted_objects.append(form.instance)
        for form in formset.forms:
            if form in formset.deleted_forms or not form.has_changed():
                continue
            if form.instance.pk:
                data = form.cleaned_data
                service = services.service_update(
                    service=Service.objects.select_related("team").get(pk=form.instance.pk),
                    name=data["name"],
                    description=data.get("description", ""),
                    actor=request.user,
                )
                formset.changed_objects.append((service, form.changed_data))
            else:
                data = form.cleaned_data
                formset.new_objects.append(
                    services.service_create(
                        team=team,
                        name=data["name"],
                        slug=data["slug"],
                        description=data.get("description", ""),
                        actor=request.user,
                    )
                )


@admin.register(Membership)
class MembershipAdmin(DomainErrorsAdminMixin, admin.ModelAdmin):
    list_display = ("user", "team", "role", "created_at")
    list_filter = ("role", "team")
    list_select_related = ("user", "team")
    search_fields = ("user__username", "user__email", "team__name", "team__slug")
    ordering = ("team__name", "user__username")
    fields = ("team", "user", "role")

    def get_readonly_fields(self, request, obj=None):
        return ("team",) if obj is not None else ()

    def save_model(self, request, obj, form, change):
        team = obj.team if change else form.cleaned_data["team"]
        membership = _save_membership_form(form, team=team, actor=request.user)
        copy_saved(obj, membership)

    def delete_model(self, request, obj):
        services.membership_remove(team=obj.team, user=obj.user, actor=request.user)

    def delete_queryset(self, request, queryset):
        for membership in queryset.select_related("team", "user"):
            services.membership_remove(team=membership.team, user=membership.user, actor=request.user)


@admin.register(Service)
class ServiceAdmin(DomainErrorsAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "team")
    list_filter = ("team",)
    list_select_related = ("team",)
    search_fields = ("name", "slug", "description")
    ordering = ("name",)
    fields = ("name", "slug", "team", "description")

    def get_readonly_fields(self, request, obj=None):
        # Incidents and alert routing refer to services by slug.
        return ("slug",) if obj is not None else ()

    def get_prepopulated_fields(self, request, obj=None):
        return {"slug": ("name",)} if obj is None else {}

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            service = services.service_update(
                service=Service.objects.select_related("team").get(pk=obj.pk),
                name=data["name"],
                description=data.get("description", ""),
                team=data["team"],
                actor=request.user,
            )
            copy_saved(obj, service)
            return
        service = services.service_create(
            team=data["team"],
            name=data["name"],
            slug=data["slug"],
            description=data.get("description", ""),
            actor=request.user,
        )
        copy_saved(obj, service)

    def delete_model(self, request, obj):
        services.service_delete(service=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for service in queryset.select_related("team"):
            services.service_delete(service=service, actor=request.user)
