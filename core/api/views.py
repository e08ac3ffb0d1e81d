"""View bricks every API shares: the base view, and the JSON 404 for paths that name no endpoint."""

from django.http import JsonResponse
from rest_framework.generics import GenericAPIView

from core.api.parsers import JSONParser


class ApiView(GenericAPIView):
    # JSON in, JSON out; no implicit filtering or pagination. (A comment: drf-spectacular would show a docstring
    # as the description of every operation.)

    parser_classes = [JSONParser]
    filter_backends = []
    pagination_class = None


def api_not_found(request, *args, **kwargs):
    """Any path under /api/v1/ that names no endpoint: the API's JSON 404, not an HTML page."""
    return JsonResponse({"detail": "No such API endpoint.", "code": "not_found"}, status=404)
