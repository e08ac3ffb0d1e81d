"""Admin forms of status pages: the public incident form carries its first (or next) update."""

from __future__ import annotations

from django import forms

from incidents.forms import VersionedForm
from statuspage import services
from statuspage.models import Component, ComponentStatus, Impact, PublicIncident, ScheduledMaintenance


class PublicIncidentForm(forms.ModelForm):
    update_status = forms.ChoiceField(
        label="Update status", choices=PublicIncident.Status.choices, required=False
    )
    update_body = forms.CharField(
        label="Update text",
        widget=forms.Textarea(attrs={"rows": 5}),
        required=False,
        help_text="What customers read. On a change, leave empty to publish no update.",
    )
    affected_components = forms.ModelMultipleChoiceField(
        queryset=Component.objects.select_related("page"), required=False
    )
    component_status = forms.ChoiceField(
        choices=ComponentStatus.choices, initial=ComponentStatus.PARTIAL_OUTAGE, required=False
    )

    class Meta:
        model = PublicIncident
        fields = ["page", "incident", "name", "impact"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None:
            if not cleaned.get("update_body"):
                self.add_error("update_body", "The first update needs a text.")
            if not cleaned.get("update_status"):
                cleaned["update_status"] = PublicIncident.Status.INVESTIGATING
        elif cleaned.get("update_body") and not cleaned.get("update_status"):
            self.add_error("update_status", "Say the status of this update.")
        return cleaned


class MaintenanceForm(forms.ModelForm):
    update_status = forms.ChoiceField(
        label="Update status", choices=ScheduledMaintenance.Status.choices, required=False
    )
    update_body = forms.CharField(
        label="Update text",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="What subscribers and the page read. On a change, leave empty to publish no update.",
    )

    class Meta:
        model = ScheduledMaintenance
        fields = ["page", "name", "impact", "scheduled_for", "scheduled_until", "components"]

    def clean(self):
        cleaned = super().clean()
        if self.instance.pk is None and not cleaned.get("update_body"):
            self.add_error("update_body", "Say what the maintenance is.")
        elif self.instance.pk is not None and cleaned.get("update_body") and not cleaned.get("update_status"):
            self.add_error("update_status", "Say the status of this update.")
        return cleaned


class PublishForm(VersionedForm):
    """Publish from the incident page: the first update opens the public incident (``name``, ``impact``), later
    ones add to it. Affected components come as ``component-<code>`` = a component status (or empty: not
    affected) and are read by the view against the chosen page's components."""

    page = forms.SlugField(max_length=50)
    status = forms.ChoiceField(choices=PublicIncident.Status.choices)
    name = forms.CharField(label="Public title", max_length=services.TITLE_MAX, required=False, strip=True)
    impact = forms.ChoiceField(choices=Impact.choices, initial=Impact.MINOR, required=False)
    body = forms.CharField(label="What customers read", max_length=services.BODY_MAX, strip=True)
    confirm = forms.BooleanField(label="I have checked: publish anyway", required=False)
    checked = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
