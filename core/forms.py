"""Form bricks that know no domain."""

from django import forms

from core.errors import DomainError


def add_domain_error(form: forms.Form, error: DomainError) -> None:
    """Show a service's error next to the field it names, or above the form when the form has no such field."""
    field = error.field if error.field in form.fields else None
    form.add_error(field, error.message)
