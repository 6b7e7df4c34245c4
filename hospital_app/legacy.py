"""Old addresses, moved for good: reports were under /stats and accounts under /users. Each
answers a permanent redirect to its new address with the same query string, so bookmarks and
links in old emails keep working. A GET moves with 301; any other method with 308, which
tells the browser to send the same request (a form's POST) to the new address."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, redirect, request

from .extensions import csrf

bp = Blueprint("legacy", __name__)
# A redirect changes nothing; the new address checks the form's token (and, for the import,
# reads a body larger than other forms may send).
csrf.exempt(bp)

# Old address (a Werkzeug rule) → new address, with the same <parameters>.
MOVED = {
    "/stats": "/reports",
    "/stats/<path:rest>": "/reports/{rest}",
    "/hospitals/<int:hospital_id>/stats/new": "/hospitals/{hospital_id}/reports/new",
    "/users": "/accounts",
    "/users/<path:rest>": "/accounts/{rest}",
}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


def redirect_to_new(**values):
    # The values come back decoded: encode them again, so "%3F" in a path stays a character.
    target = MOVED[request.url_rule.rule].format(
        **{name: quote(str(value), safe="/") for name, value in values.items()}
    )
    query = request.query_string.decode("latin-1")
    location = request.script_root + target + (f"?{query}" if query else "")
    return redirect(location, code=301 if request.method in ("GET", "HEAD") else 308)


for old in MOVED:
    bp.add_url_rule(old, "redirect", redirect_to_new, methods=METHODS)
