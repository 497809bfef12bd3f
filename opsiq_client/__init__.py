"""OpsIQ Consent client library for the systems that act on visitors (collectors, ad tags, senders).

Standard library only: it can be vendored into any Python service. For now it holds the offline
receipt check; see `opsiq_client.receipts`.
"""
from opsiq_client.receipts import ReceiptCheck, verify_receipt

__all__ = ["ReceiptCheck", "verify_receipt"]
