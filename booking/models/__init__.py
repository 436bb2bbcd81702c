"""The schema: every table, one module per area, and nothing above it imported.

Importing this package registers every model, so ``metadata`` describes the whole schema
(Alembic's environment and the schema test read it). A new model module is imported here.
"""

from booking.models.api_keys import ClinicApiBatch, ClinicApiKey, ClinicApiKeyClinic
from booking.models.base import Base, UTCDateTime
from booking.models.clinics import Clinic, EligibilityRule, Slot
from booking.models.counts import SlotDayCount, SlotDayDelta
from booking.models.invitations import (
    Invitation,
    InvitationRound,
    InvitationStatus,
    OnExpiry,
)
from booking.models.locales import LOCALES
from booking.models.messages import (
    MessageChannel,
    MessageKind,
    MessageStatus,
    OutboxDelivery,
    OutboxMessage,
)
from booking.models.preregistrations import (
    ACTIVE_PREREGISTRATION,
    Preregistration,
    PreregistrationStatus,
)
from booking.models.providers import FeedStatus, ProviderFeed, ProviderLocation, ProviderSlot
from booking.models.reservations import BOOKED_STATUSES, Channel, Reservation, ReservationStatus
from booking.models.staff import (
    CLINIC_ROLES,
    AuditEntry,
    Role,
    StaffClinic,
    StaffSession,
    StaffUser,
)
from booking.models.vaccines import VaccineProduct

metadata = Base.metadata

__all__ = [
    "ACTIVE_PREREGISTRATION",
    "BOOKED_STATUSES",
    "CLINIC_ROLES",
    "LOCALES",
    "AuditEntry",
    "Base",
    "Channel",
    "Clinic",
    "ClinicApiBatch",
    "ClinicApiKey",
    "ClinicApiKeyClinic",
    "EligibilityRule",
    "FeedStatus",
    "Invitation",
    "InvitationRound",
    "InvitationStatus",
    "MessageChannel",
    "MessageKind",
    "MessageStatus",
    "OnExpiry",
    "OutboxDelivery",
    "OutboxMessage",
    "Preregistration",
    "PreregistrationStatus",
    "ProviderFeed",
    "ProviderLocation",
    "ProviderSlot",
    "Reservation",
    "ReservationStatus",
    "Role",
    "Slot",
    "SlotDayCount",
    "SlotDayDelta",
    "StaffClinic",
    "StaffSession",
    "StaffUser",
    "UTCDateTime",
    "VaccineProduct",
    "metadata",
]
