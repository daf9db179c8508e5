"""Plug-ins for other libraries (django-two-factor-auth, django-otp, django-allauth, RQ):
each in its own module or subpackage, touching only :mod:`django_smsrest.services` (and the
outbox's stop hook, for RQ)."""
