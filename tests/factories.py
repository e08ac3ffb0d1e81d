"""factory_boy factories shared by every app's tests."""

import factory
from django.contrib.auth import get_user_model

from incidents.models import Incident, Role, Severity
from teams.models import Membership, Service, Team


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("pw-123456")
    is_active = True


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = Membership.Role.MEMBER


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    team = factory.SubFactory(TeamFactory)


def severity(slug: str = "major") -> Severity:
    return Severity.objects.get(slug=slug)


def role(slug: str = "lead") -> Role:
    return Role.objects.get(slug=slug)


class IncidentFactory(factory.django.DjangoModelFactory):
    """A bare incident row. Tests of behaviour should declare through ``incidents.services.incident_declare``."""

    class Meta:
        model = Incident
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Checkout errors {n}")
    summary = "Customers see 500s on checkout."
    severity = factory.LazyFunction(lambda: Severity.objects.get(slug="major"))
    team = factory.SubFactory(TeamFactory)
    declared_by = factory.SubFactory(UserFactory)
