"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

import sys

from hospital_app import create_app, deploy
from hospital_app.config import ConfigError

try:
    app = create_app()
except ConfigError as error:
    if deploy.checking_deploy(sys.argv):
        # check-deploy lists this refusal with every other problem instead of stopping here.
        app = deploy.checker_app()
    else:
        # A setting to fix, not a bug: one clear line instead of a traceback. The status is
        # gunicorn's "worker failed to boot", so an arbiter that loads the app in its workers
        # stops at once instead of starting new workers forever.
        print(f"Hospital Registry cannot start: {error}", file=sys.stderr)
        sys.exit(deploy.BOOT_ERROR)
