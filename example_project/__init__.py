"""The example project of django-smsrest (see README.rst, "Try it: two commands")."""
