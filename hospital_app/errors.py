"""Error pages, rendered from templates/errors/."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import db

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Go back and try again."),
    403: ("Not allowed", "You are not allowed to do this, so nothing was changed."),
    404: (
        "Page not found",
        "There is no page at this address. It may have been mistyped, "
        "or the record it named does not exist.",
    ),
    405: ("Not allowed here", "This address does not accept that kind of request."),
    409: ("Not possible now", "The record is not in a state that allows this."),
    413: ("Too large", "What you sent is larger than this site accepts."),
    429: ("Too many requests", "Too many requests came from you in a short time. Wait a while."),
}


def _render(code: int, title: str, message: str):
    template = f"errors/{code}.html" if code in (404, 500) else "errors/error.html"
    return render_template(template, code=code, title=title, message=message), code


def http_error_page(error: HTTPException):
    """The page of a 4xx error: what went wrong, and that nothing was changed."""
    title, message = MESSAGES.get(error.code, (error.name, error.description))
    if error.description != type(error).description:
        # The code that refused says why (policy.require(), a bad query string, a grid of
        # no hospital …); nothing was written.
        message = f"{error.description} Nothing was changed."
    return _render(error.code, title, message)


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _render(
            400,
            "Form expired",
            "This form could not be accepted because its security token was missing or had "
            "expired, so nothing was saved. Go back, reload the page and submit it again.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code >= 500:
            return server_error(error)
        return http_error_page(error)

    @app.errorhandler(InternalServerError)
    def server_error(error):
        # Error handlers run before the app context's teardown: roll back here, so neither
        # this page nor anything after it sees the failed transaction.
        try:
            db.session.rollback()
        except SQLAlchemyError:
            # The connection itself is broken (say, the server went away): the pool will
            # replace it; the person still gets this page rather than a bare traceback.
            app.logger.exception("Rollback failed while handling an error")
        return _render(
            500,
            "Something went wrong",
            "The server could not finish this request, and nothing of it was saved. "
            "Try again; if it keeps happening, tell your administrator the time it happened.",
        )
