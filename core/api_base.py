"""The old import path of the API bricks now in ``core.api.schema``, ``core.api.serializers`` and ``core.api.views``.

Kept only until the paging API module being moved out of oncall imports them from there; nothing else uses it.
"""

from core.api.schema import error_responses
from core.api.serializers import StrictInputSerializer, absolute_url, validated
from core.api.views import ApiView

__all__ = ["ApiView", "StrictInputSerializer", "absolute_url", "error_responses", "validated"]
