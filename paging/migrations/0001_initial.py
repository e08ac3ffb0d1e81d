import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import oncall.models

OLD_TABLES = {
    "escalationpolicy": "oncall_escalationpolicy",
    "escalationstep": "oncall_escalationstep",
    "page": "oncall_page",
    "pagestep": "oncall_pagestep",
}
# The consumers that moved with the pages: their runs keep their history under the new names.
CONSUMERS = {"oncall.auto_page": "paging.auto_page", "oncall.cancel_pages": "paging.cancel_pages"}


def take_over(apps, schema_editor):
    """The moved models' content types (and so their permissions and admin history) and consumer runs follow."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in OLD_TABLES:
        if not ContentType.objects.filter(app_label="paging", model=model).exists():
            ContentType.objects.filter(app_label="oncall", model=model).update(app_label="paging")
    ConsumerRun = apps.get_model("incidents", "ConsumerRun")
    for old, new in CONSUMERS.items():
        ConsumerRun.objects.filter(consumer=old).update(consumer=new)


def give_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="paging", model__in=list(OLD_TABLES)).update(app_label="oncall")
    ConsumerRun = apps.get_model("incidents", "ConsumerRun")
    for old, new in CONSUMERS.items():
        ConsumerRun.objects.filter(consumer=new).update(consumer=old)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("incidents", "0007_participants"),
        ("oncall", "0002_paging_moves_out"),
        ("teams", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    # The tables were created by the on-call app (oncall/migrations/0001_initial.py) and keep their rows: the models
    # enter this app's state on their old tables, which are then renamed, and their content types and consumer runs
    # follow them.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EscalationPolicy",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("name", models.CharField(max_length=100)),
                        (
                            "repeat",
                            models.PositiveSmallIntegerField(
                                default=0,
                                help_text="How many times the whole policy runs again after its last step when nobody acknowledges.",
                            ),
                        ),
                        (
                            "is_default",
                            models.BooleanField(default=False, help_text="Used when the team is paged."),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "auto_page_severity",
                            models.ForeignKey(
                                blank=True,
                                help_text="Page the team automatically when an incident at least this severe is declared for it.",
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="incidents.severity",
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="escalation_policies",
                                to="teams.team",
                            ),
                        ),
                    ],
                    options={
                        "db_table": OLD_TABLES["escalationpolicy"],
                        "verbose_name_plural": "escalation policies",
                        "ordering": ["team__name", "name"],
                    },
                ),
                migrations.CreateModel(
                    name="EscalationStep",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("position", models.PositiveSmallIntegerField(default=0)),
                        (
                            "target",
                            models.CharField(
                                choices=[
                                    ("schedule", "The on-call of a schedule"),
                                    ("user", "A person"),
                                    ("team", "The whole team"),
                                ],
                                max_length=10,
                            ),
                        ),
                        (
                            "wait_minutes",
                            models.PositiveSmallIntegerField(
                                default=5,
                                help_text="Minutes to wait for an acknowledgement before the next step.",
                            ),
                        ),
                        (
                            "policy",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="steps",
                                to="paging.escalationpolicy",
                            ),
                        ),
                        (
                            "schedule",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to="oncall.schedule",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": OLD_TABLES["escalationstep"],
                        "ordering": ["policy", "position", "id"],
                    },
                ),
                migrations.CreateModel(
                    name="Page",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("reason", models.CharField(blank=True, max_length=500)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("triggered", "Triggered"),
                                    ("acknowledged", "Acknowledged"),
                                    ("exhausted", "Nobody acknowledged"),
                                    ("cancelled", "Cancelled"),
                                ],
                                default="triggered",
                                max_length=20,
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "round",
                            models.PositiveSmallIntegerField(
                                default=0, help_text="How many times the policy has started over."
                            ),
                        ),
                        (
                            "step",
                            models.PositiveSmallIntegerField(default=0, help_text="The step last notified."),
                        ),
                        ("next_escalation_at", models.DateTimeField(blank=True, db_index=True, null=True)),
                        ("wake_token", models.UUIDField(default=uuid.uuid4)),
                        (
                            "ack_token",
                            models.CharField(
                                default=oncall.models.new_token, editable=False, max_length=64, unique=True
                            ),
                        ),
                        ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "acknowledged_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "created_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "incident",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="pages",
                                to="incidents.incident",
                            ),
                        ),
                        (
                            "policy",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="pages",
                                to="paging.escalationpolicy",
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="pages",
                                to="teams.team",
                            ),
                        ),
                        (
                            "user",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="pages_received",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": OLD_TABLES["page"],
                        "ordering": ["-created_at", "-id"],
                    },
                ),
                migrations.CreateModel(
                    name="PageStep",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("round", models.PositiveSmallIntegerField()),
                        ("step", models.PositiveSmallIntegerField()),
                        (
                            "notified",
                            models.JSONField(default=list, help_text="User ids notified at this step."),
                        ),
                        ("notified_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "page",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="steps",
                                to="paging.page",
                            ),
                        ),
                    ],
                    options={
                        "db_table": OLD_TABLES["pagestep"],
                        "ordering": ["page", "round", "step"],
                    },
                ),
                migrations.AddConstraint(
                    model_name="escalationpolicy",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("is_default", True)),
                        fields=("team",),
                        name="one_default_policy_per_team",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="escalationstep",
                    constraint=models.UniqueConstraint(
                        fields=("policy", "position"), name="escalation_step_position"
                    ),
                ),
                migrations.AddIndex(
                    model_name="page",
                    index=models.Index(fields=["status", "next_escalation_at"], name="page_due"),
                ),
                migrations.AddConstraint(
                    model_name="pagestep",
                    constraint=models.UniqueConstraint(
                        fields=("page", "round", "step"), name="page_step_once"
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="escalationpolicy", table=None),
        migrations.AlterModelTable(name="escalationstep", table=None),
        migrations.AlterModelTable(name="page", table=None),
        migrations.AlterModelTable(name="pagestep", table=None),
        migrations.RunPython(take_over, give_back),
    ]
