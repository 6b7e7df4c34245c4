"""Hospital Registry: hospitals and their daily reports, entered through HTML forms."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import cli, cycle, errors, legacy, policy, rules, security, summary, system, templating
from . import config as config_module
from .accounts.views import bp as accounts_bp
from .audit import trail
from .audit.views import bp as audit_bp
from .auth import views as auth
from .dashboard.views import bp as dashboard_bp
from .database import init_engine
from .entry.views import bp as entry_bp
from .extensions import csrf, db, login_manager, migrate
from .followup.views import bp as followup_bp
from .hospitals.views import bp as hospitals_bp
from .reminders.views import bp as reminders_bp
from .reports.views import bp as reports_bp
from .review import signoff
from .review.views import bp as review_bp
from .settings.views import bp as settings_bp
from .timeliness.views import bp as timeliness_bp
from .web import GuardedBody, IdConverter, check_query_string

ROOT = Path(__file__).resolve().parent.parent

# One blueprint per URL prefix, each in the package of that name (README, "Where the code is").
BLUEPRINTS = (
    auth.bp,
    dashboard_bp,
    entry_bp,
    hospitals_bp,
    reports_bp,
    review_bp,
    followup_bp,
    timeliness_bp,
    accounts_bp,
    audit_bp,
    reminders_bp,
    settings_bp,
    system.bp,
    legacy.bp,
)


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
    trail.register()
    cycle.register()
    signoff.register()
    summary.register()

    # Before the routes are added: their <int:…> ids are compiled with it.
    app.url_map.converters["int"] = IdConverter
    app.before_request(check_query_string)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    auth.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    templating.init_app(
        app,
        can=policy.can,
        field_labels=rules.FIELD_LABELS,
        due_text=cycle.due_text,
        day_closed=cycle.day_closed,
    )
    cli.init_app(app)

    app.wsgi_app = GuardedBody(app.wsgi_app)
    if app.config["PROXY_COUNT"]:
        n = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)
    return app
