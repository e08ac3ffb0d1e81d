"""Health endpoints for load balancers and orchestrators, and the signed-in person's API tokens."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core import selectors, services
from core.errors import DomainError
from core.forms import ApiTokenForm, add_domain_error


@require_GET
@never_cache
def healthz(request):
    """The process is up and serving requests."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request):
    """The database and, when configured, Redis are reachable; 503 otherwise."""
    checks: dict[str, str] = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
        healthy = False
    if settings.REDIS_URL:
        try:
            import redis

            client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
            client.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
            healthy = False
    else:
        checks["redis"] = "not configured"
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )


def safe_next_url(request, fallback: str) -> str:
    """Where a form posted from a page should return: its ``next`` field when it points at this site, else
    ``fallback`` (never an open redirect)."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


# --- API tokens -------------------------------------------------------------------------------------------


@login_required
def api_tokens(request):
    """The signed-in person's API tokens: list, and create one (its secret is shown on this response only)."""
    secret = None
    created = None
    status = 200
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            days = form.cleaned_data["expires_in"]
            try:
                created, secret = services.api_token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    expires_at=timezone.now() + timedelta(days=days) if days else None,
                )
            except DomainError as error:
                add_domain_error(form, error)
                status = 400
            else:
                form = ApiTokenForm(initial={"expires_in": _default_days()})
        else:
            status = 400
    else:
        form = ApiTokenForm(initial={"expires_in": _default_days()})
    response = render(
        request,
        "core/api_tokens.html",
        {
            "form": form,
            "tokens": selectors.api_token_list(user=request.user)[:200],
            "secret": secret,
            "created": created,
        },
        status=status,
    )
    # The page with a secret on it must not be kept by a browser or a proxy.
    add_never_cache_headers(response)
    return response


def _default_days() -> int:
    days = settings.API_TOKEN_DEFAULT_DAYS
    return days if days in (7, 30, 90, 365) else (0 if not days or days <= 0 else 90)


@login_required
@require_POST
def api_token_revoke(request, pk: int):
    token = selectors.api_token_get(user=request.user, pk=pk)
    if token is None:
        raise Http404("No such token.")
    services.api_token_revoke(actor=request.user, token=token)
    messages.success(request, f"The token “{token.name}” ({token.prefix}…) is revoked: it no longer works.")
    return redirect("core:api_tokens")
