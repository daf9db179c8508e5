"""``manage.py ensure_demo_user``: create (or reset) the local demo's superuser.

For the local demo only: the password is printed on purpose.
"""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create or reset the demo superuser (local demo only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", default="demo")
        parser.add_argument(
            "--phone",
            help="also give the user a two-factor SMS device with this number (the "
            "/account/login/ page then asks for a code sent by SMS)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=options["username"], defaults={"email": "demo@example.com"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(options["password"])
        user.save()
        action = "created" if created else "reset"
        self.stdout.write(f"Demo user {action}: {options['username']} / {options['password']}")
        if options["phone"]:
            from two_factor.plugins.phonenumber.models import PhoneDevice

            PhoneDevice.objects.update_or_create(
                user=user, name="default", defaults={"number": options["phone"], "method": "sms"}
            )
            self.stdout.write(f"Two-factor SMS device: {options['phone']}")
