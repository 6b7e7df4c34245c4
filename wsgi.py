"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

from hospital_app import create_app
from hospital_app.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    # A setting to fix, not a bug: one clear line instead of a traceback.
    raise SystemExit(f"Hospital Registry cannot start: {error}") from None
