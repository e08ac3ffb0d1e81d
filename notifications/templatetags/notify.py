from django import template

register = template.Library()


@register.filter
def slack_escape(value) -> str:
    """Escape the three characters Slack's mrkdwn treats as control characters, so user text cannot mention
    @channel or forge links."""
    return (
        str(value if value is not None else "")
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
    )
