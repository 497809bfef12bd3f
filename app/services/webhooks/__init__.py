"""Webhooks: endpoints, the outbox, Standard Webhooks 1.0 signatures and the delivery worker, one
module each (`endpoints`, `outbox`, `signing`, `delivery`)."""
