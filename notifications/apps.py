from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from incidents.consumers import register
        from incidents.kinds import register_kind
        from notifications import incident_channel, reminders, routing

        register_kind(
            reminders.REMINDER,
            label="Reminder",
            icon="clock",
            template="notifications/timeline/reminder.html",
        )
        register("notifications.route", kinds=routing.routed_kinds, handler=routing.route_event)
        register(incident_channel.CONSUMER, kinds=incident_channel.KINDS, handler=incident_channel.on_event)
        register("notifications.reminders", kinds={reminders.REMINDER}, handler=reminders.reminder_deliver)
