from django.core.management.base import BaseCommand, CommandError

from cadml_site.api.exceptions import DomainError
from cadml_site.api.services import api_key_create


class Command(BaseCommand):
    help = "Creates an API key and prints its secret once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique name for the client holding the key.")

    def handle(self, *args, name: str, **options):
        try:
            key, secret = api_key_create(name=name)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created API key {key.name!r} (prefix {key.prefix}). Store the secret now; it is not "
                          "kept and cannot be shown again:")
        self.stdout.write(secret)
