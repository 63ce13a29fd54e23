from django.core.management.base import BaseCommand, CommandError

from cadml_site.errors import DomainError
from cadml_site.api.models import ApiKeyScope
from cadml_site.api.services import api_key_create


class Command(BaseCommand):
    help = "Creates an API key and prints its secret once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique name for the client holding the key.")
        parser.add_argument("--scope", choices=ApiKeyScope.values, default=ApiKeyScope.READ_WRITE,
                            help="read (403 on every write) or read_write (default).")

    def handle(self, *args, name: str, scope: str, **options):
        try:
            key, secret = api_key_create(name=name, scope=scope)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created API key {key.name!r} (prefix {key.prefix}, scope {key.scope}). Store the secret now; it is not "
                          "kept and cannot be shown again:")
        self.stdout.write(secret)
