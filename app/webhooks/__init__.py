"""Webhooks: the events a tenant may subscribe to, their signed HTTP transport, and the
dispatcher that sends the outbox (app/services/webhook_outbox.py) after commit."""
