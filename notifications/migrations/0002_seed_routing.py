from django.db import migrations


def seed(apps, schema_editor):
    from notifications.defaults import ensure_defaults

    ensure_defaults(
        apps.get_model("notifications", "Destination"),
        apps.get_model("notifications", "RoutingRule"),
        apps.get_model("incidents", "Severity"),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("incidents", "0003_reminders_and_update_cadence"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
