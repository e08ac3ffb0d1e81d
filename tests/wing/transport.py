"""The wing's transport: it keeps what it is given, so a test can see exactly what was delivered."""

from __future__ import annotations

from notifications.channels import PermanentError, Transport


class WingTransport(Transport):
    name = "wing"
    label = "Wing chat"

    def enabled(self) -> bool:
        return True

    def check_destination(self, destination) -> None:
        from core.errors import ValidationError

        if not destination.address.startswith("room-"):
            raise ValidationError("A wing room is named room-<something>.", field="address")

    def describe(self, destination) -> str:
        return f"wing {destination.address}"

    def route(self, destination, *, event, context, render):
        yield {"kind": "post", "target": destination.address, "body": render("slack").text}

    def send(self, message) -> str:
        from tests.wing.apps import SENT

        if message.target == "room-closed":
            raise PermanentError("room_closed")
        SENT.append({"id": message.pk, "kind": message.kind, "target": message.target, "body": message.body})
        return f"wing-{message.pk}"
