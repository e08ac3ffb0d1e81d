"""View bricks every API shares: the base view, and the JSON 404 for paths that name no endpoint."""

from django.http import JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework.generics import GenericAPIView

from core.api.parsers import JSONParser


class ApiView(GenericAPIView):
    # JSON in, JSON out; no implicit filtering or pagination. (A comment: drf-spectacular would show a docstring
    # as the description of every operation.)

    parser_classes = [JSONParser]
    filter_backends = []
    pagination_class = None


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Any path under /api/v1/ that names no endpoint: the API's JSON 404, not an HTML page, whatever the method.

    CSRF-exempt like every DRF view (which checks CSRF itself for a session and skips it for a token): it changes
    nothing, and otherwise a token-authenticated ``POST`` to a mistyped path would answer Django's HTML CSRF page.
    A path that names an endpoint once a slash is added says so.
    """
    detail = "No such API endpoint."
    path = request.path_info
    if not path.endswith("/"):
        try:
            match = resolve(f"{path}/")
        except (Resolver404, ValueError):
            match = None
        if match is not None and match.func is not api_not_found:
            detail = f"No such API endpoint: did you mean {request.path}/ (with the trailing slash)?"
    return JsonResponse({"detail": detail, "code": "not_found"}, status=404)
