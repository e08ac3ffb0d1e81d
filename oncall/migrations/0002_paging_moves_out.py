from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("oncall", "0001_initial"),
    ]

    # Escalation policies and pages moved to the paging app (paging/migrations/0001_initial.py), which takes over
    # their tables: they leave this app's state only, and no table is touched here.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="page",
                    name="policy",
                ),
                migrations.RemoveField(
                    model_name="escalationstep",
                    name="policy",
                ),
                migrations.RemoveField(
                    model_name="escalationstep",
                    name="schedule",
                ),
                migrations.RemoveField(
                    model_name="escalationstep",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="page",
                    name="acknowledged_by",
                ),
                migrations.RemoveField(
                    model_name="page",
                    name="created_by",
                ),
                migrations.RemoveField(
                    model_name="page",
                    name="incident",
                ),
                migrations.RemoveField(
                    model_name="page",
                    name="team",
                ),
                migrations.RemoveField(
                    model_name="page",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="pagestep",
                    name="page",
                ),
                migrations.DeleteModel(
                    name="EscalationPolicy",
                ),
                migrations.DeleteModel(
                    name="EscalationStep",
                ),
                migrations.DeleteModel(
                    name="Page",
                ),
                migrations.DeleteModel(
                    name="PageStep",
                ),
            ],
            database_operations=[],
        ),
    ]
