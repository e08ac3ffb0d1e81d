"""Admin forms of status pages: the public incident form carries its first (or next) update."""

from __future__ import annotations

from django import forms

from statuspage.models import Component, ComponentStatus, PublicIncident, ScheduledMaintenance


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
