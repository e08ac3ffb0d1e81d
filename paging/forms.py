"""Forms of paging: paging from the incident page, and the escalation policy editor of the admin (the policy and
its inline steps, checked as ``paging.services`` checks them, so a mistake is shown on its field)."""

from __future__ import annotations

from django import forms

from core.validation import ID_MAX, ID_MIN
from incidents.forms import VersionedForm
from paging import services
from paging.models import EscalationPolicy, EscalationStep
from teams.models import Membership


class PageForm(VersionedForm):
    team = forms.SlugField(required=False, max_length=100)
    user = forms.IntegerField(required=False, min_value=ID_MIN, max_value=ID_MAX)
    reason = forms.CharField(required=False, max_length=services.REASON_MAX)

    def clean(self):
        data = super().clean()
        if bool(data.get("team")) == bool(data.get("user")):
            raise forms.ValidationError("Choose a team or a person to page.")
        return data


class EscalationStepForm(forms.ModelForm):
    class Meta:
        model = EscalationStep
        fields = ["position", "target", "schedule", "user", "wait_minutes"]

    def clean(self):
        data = super().clean()
        target, schedule, user = data.get("target"), data.get("schedule"), data.get("user")
        team = getattr(self.instance.policy, "team", None) if self.instance.policy_id else None
        team = team or getattr(self, "parent_team", None)
        wait = data.get("wait_minutes")
        if wait is not None and not services.WAIT_MIN <= wait <= services.WAIT_MAX:
            self.add_error(
                "wait_minutes", f"Wait between {services.WAIT_MIN} and {services.WAIT_MAX} minutes."
            )
        if target == EscalationStep.Target.SCHEDULE:
            if schedule is None:
                self.add_error("schedule", "Choose the schedule whose on-call is notified.")
            elif team is not None and schedule.team_id != team.pk:
                self.add_error("schedule", f"Choose one of the {team.name} team's schedules.")
            data["user"] = None
        elif target == EscalationStep.Target.USER:
            if user is None:
                self.add_error("user", "Choose the person notified.")
            elif team is not None and not Membership.objects.filter(team=team, user=user).exists():
                self.add_error("user", f"Choose a member of the {team.name} team.")
            data["schedule"] = None
        elif target == EscalationStep.Target.TEAM:
            data["schedule"] = data["user"] = None
        return data


class EscalationStepFormSet(forms.BaseInlineFormSet):
    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.parent_team = getattr(self.instance, "team", None) if self.instance.team_id else None
        return form

    def clean(self):
        super().clean()
        alive = [f for f in self.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        if not alive:
            raise forms.ValidationError("A policy needs at least one step.")
        if len(alive) > services.STEPS_MAX:
            raise forms.ValidationError(f"A policy has at most {services.STEPS_MAX} steps.")
        positions = [f.cleaned_data.get("position") for f in alive]
        if len(set(positions)) != len(positions):
            raise forms.ValidationError("Give each step its own position.")


class EscalationPolicyForm(forms.ModelForm):
    class Meta:
        model = EscalationPolicy
        fields = ["team", "name", "is_default", "repeat", "auto_page_severity"]

    def _get_validation_exclusions(self):
        # The service moves the team's default to this policy (and checks the name); the "one default per team"
        # constraint is its guarantee. Checked here, it would refuse a second default with the constraint's name.
        return super()._get_validation_exclusions() | {"is_default"}

    def clean_repeat(self):
        repeat = self.cleaned_data.get("repeat")
        if repeat is not None and repeat > services.REPEAT_MAX:
            raise forms.ValidationError(f"Repeat at most {services.REPEAT_MAX} times.")
        return repeat
