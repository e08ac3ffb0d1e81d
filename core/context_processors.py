from django.conf import settings


def muster(request):
    return {
        "MUSTER_SITE_URL": settings.SITE_URL,
        "MUSTER_SSO_ENABLED": bool(settings.OIDC_SERVER_URL),
        "MUSTER_SSO_PROVIDER_ID": settings.OIDC_PROVIDER_ID,
    }
