from cadml_site.api.management.credential_command import CreateCredentialCommand
from cadml_site.api.services import admin_token_create


class Command(CreateCredentialCommand):
    help = "Creates an admin token for an active staff user and prints it once, alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="Optional label for the token.")

    def handle(self, *args, username: str, name: str, **options):
        self.create_and_print(
            admin_token_create, lambda token: f"Created admin token for {username!r} (prefix {token.prefix}). "
                                              "Store it now;",
            username=username, name=name)
