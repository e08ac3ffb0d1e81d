import pytest
from django.core.management import call_command

from oncall.models import Override, RotationMember, Schedule


@pytest.mark.django_db
def test_demo_on_call_data_loads_once_and_is_idempotent():
    call_command("seed_demo", verbosity=0)
    call_command("seed_oncall_demo", verbosity=0)
    counts = [Schedule.objects.count(), RotationMember.objects.count(), Override.objects.count()]
    call_command("seed_oncall_demo", verbosity=0)
    assert counts == [Schedule.objects.count(), RotationMember.objects.count(), Override.objects.count()]
    assert counts[0] == 3
    assert Override.objects.filter(user__username="alice").count() == 1


@pytest.mark.django_db
def test_demo_on_call_data_skips_missing_teams():
    call_command("seed_oncall_demo", verbosity=0)
    assert not Schedule.objects.exists()
