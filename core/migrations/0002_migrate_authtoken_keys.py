"""Every key of DRF's ``authtoken`` app becomes a Muster API token named "migrated", stored as a digest, so clients
keep working; then the plain keys are dropped with their table (Muster no longer installs ``authtoken``).

A database that never had ``authtoken`` (a new one) has nothing to copy and nothing to drop.
"""

import hashlib
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from django.utils.dateparse import parse_datetime

TABLE = "authtoken_token"


def _aware(value, default: datetime) -> datetime:
    """A raw ``created`` value as an aware datetime (SQLite hands back text in UTC, without an offset)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime):
        return default
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def copy_authtoken_keys(apps, schema_editor):
    connection = schema_editor.connection
    if TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("core", "ApiToken")
    table = connection.ops.quote_name(TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name('key')}, created, user_id FROM {table}")
        rows = cursor.fetchall()
    now = timezone.now()
    days = settings.API_TOKEN_DEFAULT_DAYS
    expires_at = now + timedelta(days=days) if days and days > 0 else None
    ApiToken.objects.bulk_create(
        [
            ApiToken(
                user_id=user_id,
                name="migrated",
                prefix=key[:8],
                digest=hashlib.sha256(key.encode()).hexdigest(),
                created_at=_aware(created, now),
                expires_at=expires_at,
            )
            for key, created, user_id in rows
        ],
        ignore_conflicts=True,
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {table}")
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_api_token"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(copy_authtoken_keys, migrations.RunPython.noop, elidable=False)]
