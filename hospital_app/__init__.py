"""Hospital Registry: hospitals and their daily statistics, entered through HTML forms."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module
from .database import init_engine
from .extensions import csrf, db, login_manager, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(config_module.load(app.instance_path, config))
    Path(app.instance_path).mkdir(exist_ok=True)  # home of the default SQLite database

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    init_engine(app)

    from .audit import trail  # noqa: F401 (registers the audit trail's session event)
    from .audit.views import bp as audit_bp
    from .auth import views as auth
    from .dashboard.views import bp as dashboard_bp
    from .dashboard.views import index as dashboard_index
    from .hospitals.views import bp as hospitals_bp
    from .imports.views import bp as imports_bp
    from .reports.views import bp as reports_bp
    from .stats.views import bp as stats_bp
    from .system import bp as system_bp
    from .users.views import bp as users_bp

    for blueprint in (
        auth.bp,
        dashboard_bp,
        hospitals_bp,
        stats_bp,
        reports_bp,
        imports_bp,
        users_bp,
        audit_bp,
        system_bp,
    ):
        app.register_blueprint(blueprint)
    app.add_url_rule("/", "index", dashboard_index)

    from . import cli, errors, security, templating

    auth.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(app)
    cli.init_app(app)

    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    return app
