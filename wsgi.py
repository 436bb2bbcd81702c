"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

import sys

from booking import create_app
from booking.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line naming the setting to fix (`flask --app wsgi --help` included), not a traceback.
    sys.exit(f"FairSlot cannot start: {exc}")
