from django.core.management.base import BaseCommand, CommandError

from cadml_site.errors import DomainError
from cadml_site.api.services import admin_token_create


class Command(BaseCommand):
    help = "Creates an admin token for an active staff user and prints it once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="Optional label for the token.")

    def handle(self, *args, username: str, name: str, **options):
        try:
            token, secret = admin_token_create(username=username, name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created admin token for {username!r} (prefix {token.prefix}). Store it now; it is not "
                          "kept and cannot be shown again:")
        self.stdout.write(secret)
