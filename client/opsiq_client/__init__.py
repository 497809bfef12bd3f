"""OpsIQ Consent client library for the systems that act on visitors (collectors, ad tags, senders).

Standard library only: it can be installed or vendored into any Python service.
- `ConsentClient`: the server API (consent checks, email checks, batches).
- `verify_receipt`: a consent receipt checked offline with the site's receipt secrets.
- `verify_webhook`: a Standard Webhooks 1.0 delivery checked with the endpoint's secret.
"""
from opsiq_client.client import ConsentAPIError, ConsentClient
from opsiq_client.receipts import ReceiptCheck, verify_receipt
from opsiq_client.webhooks import WebhookVerificationError, verify_webhook

__all__ = ["ConsentAPIError", "ConsentClient", "ReceiptCheck", "verify_receipt", "WebhookVerificationError",
           "verify_webhook"]
