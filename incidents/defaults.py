"""The process's default severities and roles, seeded by a migration (and re-seeded by tests that flush)."""

SEVERITIES = [
    {
        "slug": "critical",
        "name": "Critical",
        "rank": 1,
        "colour": "#dc2626",
        "description": "Full outage or data breach: the product is down for many customers, or data is exposed.",
        "uses_incident_process": True,
    },
    {
        "slug": "major",
        "name": "Major",
        "rank": 2,
        "colour": "#ea580c",
        "description": "An important subsystem is failing: customers are affected, the product is degraded.",
        "uses_incident_process": True,
    },
    {
        "slug": "minor",
        "name": "Minor",
        "rank": 3,
        "colour": "#ca8a04",
        "description": "A small problem with a workaround: it goes to normal support, not the incident workflow.",
        "uses_incident_process": False,
    },
]

ROLES = [
    {
        "slug": "lead",
        "name": "Incident lead",
        "order": 10,
        "description": "Drives the incident: decides, delegates and keeps the status current.",
    },
    {
        "slug": "messenger",
        "name": "Messenger",
        "order": 20,
        "description": "Owns customer and internal communication for incidents with customer impact.",
    },
    {
        "slug": "resolution-owner",
        "name": "Resolution owner",
        "order": 30,
        "description": "Owns the technical fix and the follow-ups that make sure it does not happen again.",
    },
]


def ensure_defaults(Severity=None, Role=None) -> None:
    """Create the default severities and roles where they are missing (idempotent; never overwrites edits)."""
    if Severity is None or Role is None:
        from incidents.models import Role, Severity
    for row in SEVERITIES:
        Severity.objects.get_or_create(slug=row["slug"], defaults=row)
    for row in ROLES:
        Role.objects.get_or_create(slug=row["slug"], defaults=row)
