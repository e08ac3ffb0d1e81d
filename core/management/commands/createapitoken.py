from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from core import services
from core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Create a named API token for USERNAME and print its secret (shown this once; Muster keeps only a digest). "
        "Use it as 'Authorization: Token <secret>'."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="What the token is for (default: cli).")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help="Days until it expires (default: API_TOKEN_DEFAULT_DAYS); 0 for never.",
        )

    def handle(self, *args, username, name="cli", expires_days=None, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named '{username}'.")
        if not user.is_active:
            raise CommandError(f"User '{username}' is inactive.")
        kwargs = {}
        if expires_days is not None:
            if expires_days < 0:
                raise CommandError("--expires-days is 0 (never) or more.")
            kwargs["expires_at"] = timezone.now() + timedelta(days=expires_days) if expires_days else None
        try:
            _token, secret = services.api_token_create(user=user, name=name, **kwargs)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(secret)
