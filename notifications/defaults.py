"""The process's default routing, seeded by a migration (and re-seeded by tests that flush the database).

Every incident goes to #incidents; customer-impact incidents to #customer-support, #ce, #sales and #marketing
(with a @marketing-incident mention); critical incidents also to #general and the executive email list; during
a heightened-attention window every incident also goes to #marketing.
"""

DESTINATIONS = [
    {"name": "#incidents", "channel": "slack", "slack_channel": "#incidents"},
    {"name": "#customer-support", "channel": "slack", "slack_channel": "#customer-support"},
    {"name": "#ce", "channel": "slack", "slack_channel": "#ce"},
    {"name": "#sales", "channel": "slack", "slack_channel": "#sales"},
    {
        "name": "#marketing",
        "channel": "slack",
        "slack_channel": "#marketing",
        "mention": "@marketing-incident",
    },
    {"name": "#general", "channel": "slack", "slack_channel": "#general"},
    {
        # Inactive until an admin puts the real addresses in.
        "name": "Executive email list",
        "channel": "email",
        "email_addresses": "executives@example.com",
        "active": False,
    },
]

RULES = [
    {"name": "Every incident to #incidents", "order": 10, "destinations": ["#incidents"]},
    {
        "name": "Customer impact to support, CE, sales and marketing",
        "order": 20,
        "customer_impact_only": True,
        "destinations": ["#customer-support", "#ce", "#sales", "#marketing"],
    },
    {
        "name": "Critical incidents to #general and the executives",
        "order": 30,
        "min_severity": "critical",
        "destinations": ["#general", "Executive email list"],
    },
    {
        "name": "Heightened attention: every incident to marketing",
        "order": 40,
        "during_attention_window": True,
        "destinations": ["#marketing"],
    },
]


def ensure_defaults(Destination=None, RoutingRule=None, Severity=None) -> None:
    """Create the default destinations and rules where missing (idempotent; never overwrites edits)."""
    if Destination is None:
        from incidents.models import Severity
        from notifications.models import Destination, RoutingRule
    by_name = {}
    for row in DESTINATIONS:
        by_name[row["name"]], _ = Destination.objects.get_or_create(name=row["name"], defaults=row)
    for row in RULES:
        row = dict(row)
        names = row.pop("destinations")
        severity = row.pop("min_severity", None)
        if severity:
            row["min_severity"] = Severity.objects.filter(slug=severity).first()
        rule, created = RoutingRule.objects.get_or_create(name=row["name"], defaults=row)
        if created:
            rule.destinations.set([by_name[name] for name in names])
