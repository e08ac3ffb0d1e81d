"""Forms of the teams web UI. The rules live in ``teams.services``."""

from django import forms

from teams.models import Membership


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(attrs={"placeholder": "e.g. Payments"}))
    slug = forms.SlugField(
        max_length=50,
        required=False,
        help_text="Used in URLs and the API. Leave empty to derive it from the name.",
    )
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What does this team own?"})
    )


class MemberAddForm(forms.Form):
    username = forms.CharField(
        max_length=254,
        label="Username or email",
        widget=forms.TextInput(attrs={"placeholder": "username or email", "autocomplete": "off"}),
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.MEMBER)
