"""Who to tell: people's Slack and email addresses, and the team's on-call.

The on-call is answered by whichever app knows schedules (``oncall`` registers a resolver in its ``ready()``);
notifications never imports it. Without a resolver, or when it finds nobody, a team's leads stand in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from django.contrib.auth import get_user_model

from notifications import channels
from notifications.models import Channel, Contact
from notifications.services import Draft

OncallResolver = Callable[..., list]  # (team, at) -> list of users
_resolvers: list[OncallResolver] = []


def register_oncall_resolver(resolver: OncallResolver) -> None:
    if resolver not in _resolvers:
        _resolvers.append(resolver)


def unregister_oncall_resolver(resolver: OncallResolver) -> None:
    if resolver in _resolvers:
        _resolvers.remove(resolver)


def team_oncall(team, *, at: datetime | None = None) -> list:
    """The people on call for ``team`` at ``at`` (now by default); the team's leads when nobody is known."""
    if team is None:
        return []
    for resolver in _resolvers:
        users = list(resolver(team, at))
        if users:
            return users
    from teams.models import Membership

    User = get_user_model()
    return list(
        User.objects.filter(
            is_active=True,
            memberships__team=team,
            memberships__role__in=[Membership.Role.LEAD, Membership.Role.ADMIN],
        ).distinct()
    )


def slack_target(user) -> str:
    """A Slack DM target: the member id when known, else ``email:<address>`` for the transport to look up."""
    contact = Contact.objects.filter(user=user).only("slack_user_id").first()
    if contact and contact.slack_user_id:
        return contact.slack_user_id
    return f"email:{user.email}" if user.email else ""


def drafts_for_person(
    user,
    *,
    dedupe_prefix: str,
    text: str,
    subject: str = "",
    html: str = "",
    email_text: str = "",
    incident_id: int | None = None,
    event_id: int | None = None,
    channels_wanted: tuple[str, ...] = (Channel.SLACK, Channel.EMAIL),
) -> Iterator[Draft]:
    """A Slack DM and an email to one person, for each channel that is switched on and that they can be reached
    on. ``dedupe_prefix`` must name the reason (e.g. ``reminder:12``): the person and channel are appended."""
    enabled = {name for name, transport in channels.registry().items() if transport.enabled()}
    common = {"incident_id": incident_id, "event_id": event_id, "recipient_id": user.pk}
    if Channel.SLACK in channels_wanted and Channel.SLACK in enabled:
        target = slack_target(user)
        if target:
            yield Draft(
                channel=Channel.SLACK,
                kind="dm",
                target=target,
                body=text,
                dedupe_key=f"{dedupe_prefix}:u{user.pk}:slack",
                **common,
            )
    if Channel.EMAIL in channels_wanted and Channel.EMAIL in enabled and user.email:
        yield Draft(
            channel=Channel.EMAIL,
            kind="email",
            target=user.email,
            subject=subject or text.splitlines()[0][:200],
            body=email_text or text,
            html=html,
            dedupe_key=f"{dedupe_prefix}:u{user.pk}:email",
            **common,
        )
