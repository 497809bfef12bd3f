"""The one canonical serialisation and digest that everything hashed (ledger records, seals, configurations) uses."""
import hashlib
import json


def canonical_json(value):
    """The one serialisation hashed anywhere in the ledger: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text):
    return hashlib.sha256(text.encode()).hexdigest()
