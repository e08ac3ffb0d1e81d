"""On-call admin. Paging: escalation policies and pages, in oncall/admin_paging.py."""

from oncall import admin_paging  # noqa: F401
