"""A webhook whose URL points inside the network goes dead with the reason, and nothing connects there.

The resolver is stubbed and ``socket.connect`` guarded: no test connects anywhere but 127.0.0.1.
"""

import socket

import pytest
from django.db import transaction

from core import outbound
from notifications import services
from notifications.models import Message
from notifications.services import Draft

pytestmark = pytest.mark.django_db

URLS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.5:8080/admin",
    "http://192.168.1.1/",
    "http://[::1]:9/hook",
    "http://[fd00::5]/",
    "http://metadata.google.internal/computeMetadata/v1/",  # a name: resolved (stubbed) to the metadata address
    "http://127.0.0.1:9/hook",  # loopback, not allowed in production
]


@pytest.mark.parametrize("url", URLS)
def test_a_webhook_to_an_internal_address_goes_dead_without_connecting(settings, monkeypatch, url):
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    tried: list = []
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: tried.append(address))
    real = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host.endswith(".internal"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", resolver)
    with transaction.atomic():
        services.messages_enqueue(
            [Draft(channel="webhook", kind="webhook", target=url, dedupe_key="k", body="x")]
        )
    message = Message.objects.get()
    services.messages_deliver(message_ids=[message.pk])
    message.refresh_from_db()
    assert message.status == Message.Status.DEAD
    assert message.last_error.startswith("Refused:")
    assert tried == []


@pytest.mark.parametrize(
    "base", ["http://169.254.169.254/api/", "http://slack.internal/api/", "http://10.0.0.5:8080/api/"]
)
def test_a_slack_api_url_inside_the_network_goes_dead_without_connecting(settings, monkeypatch, base):
    """SLACK_API_URL is an operator setting, but a typo or a hostile environment must not turn the workers into a
    proxy for the metadata service either: Slack's client connects through the same guard as webhooks."""
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    settings.SLACK_BOT_TOKEN = "xoxb-test"
    settings.SLACK_API_URL = base
    tried: list = []
    monkeypatch.setattr(socket.socket, "connect", lambda sock, address: tried.append(address))
    real = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host.endswith(".internal"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(outbound.socket, "getaddrinfo", resolver)
    with transaction.atomic():
        services.messages_enqueue(
            [Draft(channel="slack", kind="post", target="#incidents", dedupe_key="k", body="x")]
        )
    message = Message.objects.get()
    services.messages_deliver(message_ids=[message.pk])
    message.refresh_from_db()
    assert message.status == Message.Status.DEAD
    assert message.last_error.startswith("Refused:")
    assert tried == []


def test_the_slack_client_is_the_guarded_one():
    from notifications.channels import slack

    assert isinstance(slack.client(), slack.GuardedWebClient)
