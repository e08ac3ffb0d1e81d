"""Request guards that know no domain."""

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers

from core.validation import contains_nul


class RequestGuardMiddleware:
    """Refuse URLs with NUL bytes (400), and request bodies larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` with 413,
    before anything reads them.

    Django applies that limit to form posts only; JSON bodies read by DRF (and webhooks) are bounded here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # A NUL byte in the path or query string can only be an attack or a mistake, and PostgreSQL refuses it
        # in text: refuse it here once, for every page, filter and admin list.
        if "%00" in request.META.get("QUERY_STRING", "") or contains_nul(request.path):
            return JsonResponse(
                {"detail": "NUL bytes are not allowed in URLs.", "code": "bad_request"}, status=400
            )
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                return JsonResponse(
                    {"detail": "Invalid Content-Length header.", "code": "bad_request"}, status=400
                )
            if length > limit:
                return JsonResponse(
                    {
                        "detail": f"The request body is larger than {limit} bytes.",
                        "code": "request_too_large",
                    },
                    status=413,
                )
        return self.get_response(request)


class ContentionMiddleware:
    """A deadlock or serialization failure that no service retried away answers 409 "try again", never 500.

    The write services retry contention themselves (``core.db.atomic``); this is the net under every other path.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.db import OperationalError

        from core.db import Busy, is_contention

        if not (isinstance(exception, OperationalError) and is_contention(exception)):
            return None
        if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"detail": Busy.default_message, "code": Busy.code}, status=409)
        return render(request, "409.html", status=409)


class NoStoreMiddleware:
    """Every HTML response to a signed-in person is ``Cache-Control: no-store`` unless its view set its own.

    Muster's pages show live state (an incident's status and its action buttons, the lists, the team pages, the
    pages ringing): a copy kept by the browser and shown again by Back would offer actions for a state that is
    gone. So the rule is by class, not by page: any ``text/html`` answer (pages, htmx fragments, error pages) to
    an authenticated request is never stored. A view whose page may be kept says so with Django's
    ``cache_control`` (or ``never_cache``) decorator, and this middleware leaves that header alone. Static files
    never get here (WhiteNoise answers them first); the JSON API sets its own caching headers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.has_header("Cache-Control") or not response.get("Content-Type", "").startswith(
            "text/html"
        ):
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response


class AppNotFoundMiddleware:
    """Under ``DEBUG`` too, a view's 404 is Muster's own page (the one production shows), not Django's
    technical page.

    ``make run`` runs with ``DEBUG`` on, and that is where people first try the product: a private incident opened
    by someone who may not see it must look exactly as it will in production ("we can't find that page; it may be
    private"), not like a crash. An address that matches no route keeps Django's technical 404 under ``DEBUG``: it
    lists the routes, which is what a developer who mistyped one needs, and it says nothing about any data. A 500
    under ``DEBUG`` keeps the traceback for the same reason; 403 and 409 are the app's pages in every mode already.
    The API answers its own JSON 404s and is left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from django.http import Http404
        from django.urls import get_resolver

        if not settings.DEBUG or not isinstance(exception, Http404) or request.path.startswith("/api/"):
            return None
        return get_resolver().resolve_error_handler(404)(request, exception)
