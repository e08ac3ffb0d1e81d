"""The heightened-attention banner of the base layout.

The window is looked up lazily, at most once per request, and only when a page actually shows the banner (signed-in
pages of the product layout): one indexed ``LIMIT 1`` query on a table of a few rows. A cross-request cache would
make the banner lag behind the admin and make a page's query count depend on what was cached before it.
"""

from __future__ import annotations

from notifications import selectors

_UNSET = object()


def attention(request) -> dict:
    state = {"window": _UNSET}

    def attention_window():
        if state["window"] is _UNSET:
            user = getattr(request, "user", None)
            signed_in = bool(user is not None and user.is_authenticated)
            state["window"] = selectors.attention_window_active() if signed_in else None
        return state["window"]

    return {"attention_window": attention_window}
