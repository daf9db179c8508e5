"""The admin for the outbox: browse messages, send one, and act on them.

Entry points stay thin: every action and button calls :mod:`django_smsrest.services`, which
is the only code that changes a message's state, and every status set comes from
:mod:`django_smsrest.lifecycle`. The package:

* :mod:`.changelist` — the list: columns, filters, search, the credits line;
* :mod:`.message` — the registered ``ModelAdmin`` classes: add form, read-only view page;
* :mod:`.inlines` — the message page's orders and (capped) recipients;
* :mod:`.operations` — send / resend / refresh / cancel as actions and POST-only buttons;
* :mod:`.received` — the received SMS, read-only, with search;
* :mod:`.suppression` — the suppression list: search, CSV import and export;
* :mod:`.consent` — the campaign filter, the purpose switch and the override banner;
* :mod:`.common` — the one permission check, limits and small helpers.

Django's admin autodiscovery imports this package; importing :mod:`.message` registers the
admins.
"""

from django_smsrest.admin import (  # noqa: F401  (registers the ModelAdmins)
    message,
    received,
    suppression,
)
