"""Tables, one module per area; every model is importable from here (Alembic and the services see them all)."""
from app.models.audit import AuditEntry  # noqa: F401
from app.models.email import EmailConsentRecord, EmailConsentState, EmailSuppression  # noqa: F401
from app.models.identities import Identity, IdentityLink  # noqa: F401
from app.models.keyring import SiteKeyring  # noqa: F401
from app.models.ledger import (  # noqa: F401
    ChainDeletion,
    ChainSeal,
    ConsentRecord,
    LedgerCheckpoint,
    LedgerErasure,
    LedgerSeal,
    WidgetBuild,
)
from app.models.sites import ApiKey, PolicyVersion, Purpose, ReceiptKey, Site, SiteDraft, SiteSighting  # noqa: F401
from app.models.proof import ProofFile, ProofPack, ProofRequest  # noqa: F401
from app.models.subjects import SubjectRequest  # noqa: F401
from app.models.types import BigId, UTCDateTime, new_uuid, utcnow  # noqa: F401
from app.models.users import InstallationSetting, User, user_sites  # noqa: F401
from app.models.webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent  # noqa: F401
from app.models.stats import ConsentPurposeRollup, ConsentRollup, ConsentRollupMark  # noqa: F401
from app.models.scans import Scan  # noqa: F401
