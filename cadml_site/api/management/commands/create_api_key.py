from cadml_site.api.management.credential_command import CreateCredentialCommand
from cadml_site.api.models import ApiKeyScope
from cadml_site.api.services import api_key_create


class Command(CreateCredentialCommand):
    help = "Creates an API key and prints its secret once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique name for the client holding the key.")
        parser.add_argument("--scope", choices=ApiKeyScope.values, default=ApiKeyScope.READ_WRITE,
                            help="read (403 on every write) or read_write (default).")

    def handle(self, *args, name: str, scope: str, **options):
        self.create_and_print(
            api_key_create, lambda key: f"Created API key {key.name!r} (prefix {key.prefix}, scope {key.scope}). "
                                        "Store the secret now;",
            name=name, scope=scope)
