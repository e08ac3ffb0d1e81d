import pytest
from django.core.management import call_command

from paging.models import EscalationPolicy, EscalationStep


@pytest.mark.django_db
def test_demo_policies_load_once_and_are_idempotent():
    call_command("seed_demo", verbosity=0)
    call_command("seed_oncall_demo", verbosity=0)
    call_command("seed_paging_demo", verbosity=0)
    counts = [EscalationPolicy.objects.count(), EscalationStep.objects.count()]
    call_command("seed_paging_demo", verbosity=0)
    assert counts == [EscalationPolicy.objects.count(), EscalationStep.objects.count()]
    assert counts == [3, 6]
    assert EscalationPolicy.objects.filter(is_default=True, auto_page_severity__slug="critical").count() == 2
    assert EscalationStep.objects.filter(target="schedule").count() == 3


@pytest.mark.django_db
def test_demo_policies_skip_teams_without_a_schedule():
    call_command("seed_demo", verbosity=0)
    call_command("seed_paging_demo", verbosity=0)
    assert not EscalationPolicy.objects.exists()
