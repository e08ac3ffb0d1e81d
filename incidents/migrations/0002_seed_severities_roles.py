from django.db import migrations


def seed(apps, schema_editor):
    from incidents.defaults import ensure_defaults

    ensure_defaults(apps.get_model("incidents", "Severity"), apps.get_model("incidents", "Role"))


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
