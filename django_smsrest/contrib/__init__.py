"""Plug-ins for other libraries (django-two-factor-auth, django-otp, django-allauth): each
in its own subpackage, touching only :mod:`django_smsrest.services`."""
