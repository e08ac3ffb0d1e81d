"""Form bricks that know no domain."""

from django import forms

from core.errors import DomainError


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error next to the field it names, or above the form when the form has no such field."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the token is for, e.g. “deploy bot” or “Grafana alerts”."
    )
    expires_in = forms.TypedChoiceField(
        label="Expires",
        coerce=int,
        choices=[(7, "In 7 days"), (30, "In 30 days"), (90, "In 90 days"), (365, "In a year"), (0, "Never")],
        initial=90,
    )
