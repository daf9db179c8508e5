"""The example project of django-smsrest (see README.rst, "Example project")."""
