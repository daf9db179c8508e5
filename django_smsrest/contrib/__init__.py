"""Plug-ins for other libraries; each touches only the services and the outbox hooks."""
