from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    """Self-service sign-up is off unless ACCOUNT_ALLOW_REGISTRATION is set: accounts come from admins or SSO."""

    def is_open_for_signup(self, request):
        return settings.ACCOUNT_ALLOW_REGISTRATION

    def pre_authenticate(self, request, **credentials):
        """Say plainly that the login throttle holds (core.throttle), before allauth's own checks."""
        from django import forms

        from core import throttle

        if throttle.blocked(request, throttle.account_of(credentials)):
            raise forms.ValidationError(throttle.message(), code="throttled")
        return super().pre_authenticate(request, **credentials)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Anyone the company's identity provider lets in may sign in (and so declare an incident)."""

    def is_open_for_signup(self, request, sociallogin):
        return True
