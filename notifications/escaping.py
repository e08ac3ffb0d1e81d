"""Escaping for what leaves the system as Slack mrkdwn, and the template tags that keep escaping switched on.

Slack reads ``&``, ``<`` and ``>`` as control characters (``<!channel>``, ``<url|label>``); its "Escaping text"
rules replace them with ``&amp;``, ``&lt;`` and ``&gt;``, and nothing else. Text Muster writes itself (a link it
builds, a mention an admin configured) is marked safe (``django.utils.safestring``); everything else is escaped.

``register`` is a builtin of the Slack and HTML template engines (``notifications.render``): it replaces the
``autoescape`` tag with one that refuses to parse and the ``safe`` and ``safeseq`` filters with ones that mark
nothing safe, so no template rendered for Slack or for an HTML mail can switch escaping off.
"""

from __future__ import annotations

import re

from django import template
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


def slack_escape(value) -> str:
    """``value`` with Slack's three control characters escaped (text already marked safe is kept as it is)."""
    if hasattr(value, "__html__"):
        return str(value)
    return (
        str(value if value is not None else "")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )


def mrkdwn(format_string: str, *args, **kwargs) -> SafeString:
    """Like ``format_html`` for Slack: ``format_string`` is Muster's own mrkdwn, every argument is escaped."""
    return mark_safe(
        format_string.format(
            *(slack_escape(a) for a in args), **{k: slack_escape(v) for k, v in kwargs.items()}
        )
    )


def slack_link(url: str, label) -> SafeString:
    """A link Muster builds, ``<url|label>``, with the label (and the URL) escaped."""
    return mrkdwn("<{}|{}>", url, label)


def from_html_escaping(rendered: str) -> str:
    """Slack text from a template rendered with Django's (HTML) autoescaping.

    Django escapes ``&``, ``<`` and ``>`` exactly as Slack wants, and quotes as ``&quot;`` and ``&#x27;``, which
    Slack would show as they are: those two are turned back into quotes. A quote the user wrote as the entity
    itself was escaped to ``&amp;quot;`` and stays as it is.
    """
    return str(rendered).replace("&quot;", '"').replace("&#x27;", "'")


@register.tag("autoescape")
def autoescape_refused(parser, token):
    raise template.TemplateSyntaxError(
        "Slack and HTML templates are always escaped for where they go: remove {% autoescape %} "
        "(mark text Muster builds itself safe in Python instead, e.g. notifications.escaping.slack_link)."
    )


@register.filter("safe")
def safe_refused(value) -> str:
    """``|safe`` marks nothing safe here: the value is escaped like any other."""
    return str(value)


@register.filter("safeseq")
def safeseq_refused(value) -> list[str]:
    return [str(v) for v in value]


def mrkdwn_text(text) -> dict[str, str]:
    """A Block Kit ``mrkdwn`` text object; ``text`` is escaped unless Muster built it (``mrkdwn``, ``slack_link``).
    Every mrkdwn text object built in Python comes from here (``plain_text`` objects need no escaping)."""
    return {"type": "mrkdwn", "text": slack_escape(text)}


# What a destination's mention may be: Slack's mention syntax and nothing else (no links, no formatting).
_MENTION = r"(?:@[\w.\-]{1,80}|<!subteam\^[A-Z0-9]{4,20}(?:\|@[\w.\-]{1,80})?>|<@[UW][A-Z0-9]{6,20}>|<!(?:here|channel|everyone)>)"
MENTION_RE = re.compile(rf"{_MENTION}(?: {_MENTION})*")


def slack_mention(value: str) -> str:
    """A destination's configured mention for the start of a Slack message: kept as mrkdwn when it is only
    mentions (``@team``, ``<!subteam^S0123>``, ``<@U0123ABCD>``, ``<!here>``), escaped as text otherwise, so a stored
    value that predates the check cannot carry a link."""
    value = (value or "").strip()
    return value if MENTION_RE.fullmatch(value) else slack_escape(value)
