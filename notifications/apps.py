from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from core.slots import register_nav, register_panel
        from incidents.consumers import register
        from incidents.hints import register_hints
        from incidents.kinds import register_kind
        from notifications import channels, hints, incident_channel, reminders, routing

        channels.register_builtin()
        incident_channel.register_operations()

        register_panel(
            "incident.main", name="messages", template="notifications/panels/messages.html", order=10
        )
        register_panel("page.banner", name="attention", template="notifications/web/attention_banner.html")
        register_nav(
            name="health",
            label="Delivery health",
            url_name="notifications:health",
            icon="server",
            order=90,
            staff_only=True,
            place="menu",
        )
        register_kind(
            reminders.REMINDER,
            label="Reminder",
            icon="clock",
            template="notifications/timeline/reminder.html",
            recap_template="notifications/recap/reminder.txt",
        )
        # The customer update is overdue: said in the incident's header, with the age and the update form.
        register_hints("notifications.update_overdue", hints.update_overdue_hints, order=20)
        register("notifications.route", kinds=routing.routed_kinds, handler=routing.route_event)
        register(incident_channel.CONSUMER, kinds=incident_channel.KINDS, handler=incident_channel.on_event)
        register("notifications.reminders", kinds={reminders.REMINDER}, handler=reminders.reminder_deliver)
