"""Admin bricks every app's admin shares. They know no domain: titles, domain errors, hidden rows, read-only inlines.

- :class:`DomainErrorsAdminMixin`: a service that refuses a change (``core.errors.DomainError``) shows as an error
  message and, on a change form, as an error next to the field with the user's input kept. Never a 500.
- :class:`HiddenAsNotFoundMixin`: a row outside ``get_queryset`` (deleted, or hidden from this user) is a 404 at its
  change, history and delete URLs, not the stock redirect that would tell "hidden" from "missing".
- :class:`ReadOnlyInline`: a history shown under its parent, with no add row, no edit and no delete checkbox.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_permission_codename
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpResponseRedirect

from core import services
from core.errors import DomainError
from core.models import ApiToken
from core.validation import to_id


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    """The admin's login says plainly when the login throttle holds (core.throttle)."""

    def clean(self):
        from core import throttle

        if throttle.blocked(self.request, self.data.get("username") or ""):
            raise forms.ValidationError(throttle.message(), code="throttled")
        return super().clean()


admin.site.login_form = ThrottledAdminLoginForm
admin.site.site_header = "Muster administration"
admin.site.site_title = "Muster administration"
admin.site.index_title = "Administration"

_REFUSAL = "_muster_admin_refusal"


def copy_saved(target, saved) -> None:
    """Make the admin's unsaved ``target`` the row a service created (``saved``), so the admin's log and redirect
    after "add" point at it."""
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False
    target._state.db = saved._state.db


class SafeActionIdsMixin:
    """Refuse an action whose selected ids are not ids of this model (a hand-made POST) with a message, where
    Django would fail with a 500 turning them into a query."""

    def response_action(self, request, queryset):
        pk = self.model._meta.pk
        try:
            for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
                value = pk.to_python(value)
                if value is None or (isinstance(value, int) and to_id(value) is None):
                    raise ValueError(value)
        except (DjangoValidationError, ValueError, TypeError, OverflowError):
            self.message_user(request, "The selected rows are not valid ids.", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
        return super().response_action(request, queryset)


class DomainErrorsAdminMixin(SafeActionIdsMixin):
    """Translate the domain errors services raise into admin messages and form errors."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            # The view's transaction is rolled back. Show the same form again, bound to what was sent, with the
            # service's refusal next to its field (see get_form), and as a message.
            self.message_user(request, str(exc), messages.ERROR)
            if request.method != "POST" or hasattr(request, _REFUSAL):
                return HttpResponseRedirect(request.get_full_path())
            setattr(request, _REFUSAL, exc)
            try:
                return super().changeform_view(request, object_id, form_url, extra_context)
            except DomainError:
                return HttpResponseRedirect(request.get_full_path())

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, _REFUSAL, None)
        if refusal is None:
            return form_class

        class RefusedForm(form_class):
            def clean(self):
                cleaned = super().clean()
                field = refusal.field if refusal.field in self.fields else None
                self.add_error(field, str(refusal))
                return cleaned

        RefusedForm.__name__ = form_class.__name__
        return RefusedForm

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def response_action(self, request, queryset):
        try:
            return super().response_action(request, queryset)
        except DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


class HiddenAsNotFoundMixin:
    """A 404, not a redirect with "doesn't exist" message, for rows ``get_queryset`` leaves out."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("Not found.")
        return obj


def has_parent_view_permission(inline, request) -> bool:
    """An inline history belongs to its parent: whoever may view or change the parent may read it."""
    opts = inline.parent_model._meta
    return any(
        request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
        for action in ("view", "change")
    )


class ReadOnlyInline(admin.TabularInline):
    """A read-only list of related rows: no add row, no edits, no delete checkbox."""

    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return has_parent_view_permission(self, request)


# --- API tokens -----------------------------------------------------------------------------------------------


@admin.register(ApiToken)
class ApiTokenAdmin(DomainErrorsAdminMixin, admin.ModelAdmin):
    """Tokens by their prefix only: the secret is never stored, and the digest is never shown. A token is
    created by its owner (the API tokens page, or ``manage.py createapitoken``), never here with a chosen
    secret."""

    list_display = ["name", "user", "prefix", "created_at", "expires_at", "last_used_at", "status"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    fields = ["user", "name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Status")
    def status(self, obj):
        return obj.status

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request, queryset):
        done = 0
        for token in queryset:
            if token.revoked_at is None:
                services.api_token_revoke(actor=request.user, token=token)
                done += 1
        self.message_user(request, f"{done} token{'s' if done != 1 else ''} revoked.", messages.SUCCESS)


class ServiceWritesAdmin(DomainErrorsAdminMixin, HiddenAsNotFoundMixin, admin.ModelAdmin):
    """An admin whose every write, inline rows included, goes through the app's services, with their permission
    checks; a refusal shows on the form (``DomainErrorsAdminMixin``). Subclasses say how to create, update and
    delete their rows (``service_create`` / ``service_update`` / ``service_delete``) and, for inlines,
    ``inline_services``: model -> (create, update, delete), each called with the actor and the row or form."""

    inline_services: dict = {}

    def save_model(self, request, obj, form, change):
        # Written in save_related, once the inline rows (a rotation's members) are known.
        pass

    def save_related(self, request, form, formsets, change):
        obj = form.instance
        if change:
            saved = self.service_update(request, obj, form, formsets)
        else:
            saved = self.service_create(request, obj, form, formsets)
        if saved is not None and saved is not obj:
            copy_saved(obj, saved)
        for formset in formsets:
            self.save_inline_through_services(request, obj, formset)

    def save_inline_through_services(self, request, parent, formset):
        create, update, delete = self.inline_services.get(formset.model, (None, None, None))
        for inline_form in formset.forms:
            if not inline_form.has_changed() and not formset._should_delete_form(inline_form):
                continue
            instance = inline_form.instance
            if formset._should_delete_form(inline_form):
                if instance.pk is not None:
                    delete(request.user, instance)
            elif instance.pk is None:
                create(request.user, parent, inline_form)
            else:
                update(request.user, instance, inline_form)
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        self.service_delete(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.service_delete(request, obj)
