from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from incidents.consumers import register
        from notifications import incident_channel, routing

        register("notifications.route", kinds=routing.ROUTED_KINDS, handler=routing.route_event)
        register(incident_channel.CONSUMER, kinds=incident_channel.KINDS, handler=incident_channel.on_event)
        from notifications import reminders

        register("notifications.reminders", kinds={"reminder"}, handler=reminders.reminder_deliver)
