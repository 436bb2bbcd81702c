"""Every model module, imported in one place so ``metadata`` describes the whole schema.

Alembic's environment and the schema test use this; a new model module is added here.
"""

from booking import models
from booking.messages import models as message_models
from booking.staff import models as staff_models

metadata = models.Base.metadata

__all__ = ["message_models", "metadata", "models", "staff_models"]
