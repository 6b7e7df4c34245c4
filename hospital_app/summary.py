"""Daily sums of the reports, kept beside them (being built: issue 15).

Writes that go around the ORM session (the import's bulk statements, seed-demo) tell this
module what they replaced and what they wrote, in the same transaction, with
record_reports(); the ORM's own writes are seen by a flush listener.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def record_reports(
    connection, before: Sequence[Mapping] = (), after: Sequence[Mapping] = ()
) -> None:
    """Account for reports written around the session, on `connection` (the session's, so
    it commits or rolls back with them). `before`: the stored values of the reports that
    were changed or deleted, as they were; `after`: the values of the reports inserted or
    changed, as written. Each mapping is keyed by Report's column names and holds at least
    hospital_id, report_date, the figures (rules.COUNT_FIELDS), on_time and signed_off_at."""
    return None
