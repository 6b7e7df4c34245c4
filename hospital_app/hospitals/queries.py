"""What the hospitals area reads: the list (and its CSV export) with each hospital's newest
report, the regions in use, and a hospital's occupancy chart. Other areas may use these: the
hospitals area owns the hospitals' data."""

from __future__ import annotations

import functools
from datetime import date

from sqlalchemy import Integer, Select, String, bindparam, func, or_, select, true
from sqlalchemy.orm import aliased, contains_eager

from .. import rules
from ..charts import Chart, days_ending, occupancy_chart
from ..extensions import db
from ..models import Hospital, Report


def regions_in_use() -> list[str]:
    """Every region a hospital is in, as stored, in order."""
    return list(db.session.scalars(select(Hospital.region).distinct().order_by(Hospital.region)))


def with_latest_report(stmt: Select) -> Select:
    """Join each hospital of `stmt` to its newest report and fill `latest_report` from it.

    A correlated subquery, so the database looks up only the hospitals the page shows
    (through the (hospital_id, report_date) unique index), in the same single query. The
    join is built once (module level): building it anew cost a sixth of a list request.
    """
    return stmt.outerjoin(_LATEST, _LATEST_ON).options(_LATEST_LOADED)


_LATEST = aliased(Report, name="latest")
_NEWER = aliased(Report, name="newer")
_LATEST_ON = (_LATEST.hospital_id == Hospital.id) & (
    _LATEST.report_date
    == select(func.max(_NEWER.report_date))
    .where(_NEWER.hospital_id == Hospital.id)
    .scalar_subquery()
)
_LATEST_LOADED = contains_eager(Hospital.latest_report.of_type(_LATEST))

# The list's filters as bound parameters, so that each shape of query string is built once.
_Q_NAME, _Q_CODE = bindparam("q_name", type_=String), bindparam("q_code", type_=String)
_REGION, _OWNERSHIP = bindparam("region", type_=String), bindparam("ownership", type_=String)
_LIMIT, _OFFSET = bindparam("limit", type_=Integer), bindparam("offset", type_=Integer)
_LIKE_ESCAPE = "/"


def _like_text(text: str) -> str:
    """`text` to be found as typed: its LIKE wildcards escaped (what autoescape=True does to
    a literal, which a bound parameter cannot ask)."""
    for char in (_LIKE_ESCAPE, "%", "_"):
        text = text.replace(char, _LIKE_ESCAPE + char)
    return text


# The latest report's beds_occupied / beds_total (NULL with no report or no beds), read per
# hospital through the (hospital_id, report_date) unique index. It lies in 0..1 (a CHECK
# keeps occupied <= total), so a sentinel outside that range puts the NULLs last in either
# direction on all three databases (MariaDB has no NULLS LAST).
_OCCUPANCY = (
    select(Report.beds_occupied * 1.0 / func.nullif(Report.beds_total, 0))
    .where(Report.hospital_id == Hospital.id)
    .order_by(Report.report_date.desc())
    .limit(1)
    .scalar_subquery()
)


def _shape(filters) -> tuple:
    """What decides the statement of the list (not the values it is run with)."""
    return (
        bool(filters.q.data),
        bool(filters.region.data),
        bool(filters.ownership.data),
        filters.status.data,
        filters.sort_key(),
    )


def _params(filters) -> dict:
    q = filters.q.data or ""
    return {
        "q_name": _like_text(q),
        "q_code": _like_text(q.upper()),
        "region": filters.region.data,
        "ownership": filters.ownership.data,
    }


def _criteria(shape: tuple) -> list:
    has_q, has_region, has_ownership, status, _sort = shape
    criteria = []
    if has_q:
        criteria.append(
            or_(
                Hospital.name.icontains(_Q_NAME, escape=_LIKE_ESCAPE),
                Hospital.code.icontains(_Q_CODE, escape=_LIKE_ESCAPE),
            )
        )
    if has_region:
        # Already the stored spelling (web.RegionFilter): equality uses the index.
        criteria.append(Hospital.region == _REGION)
    if has_ownership:
        criteria.append(Hospital.ownership == _OWNERSHIP)
    if status == "active":
        criteria.append(Hospital.is_active.is_(True))
    elif status == "archived":
        criteria.append(Hospital.is_active.is_(False))
    return criteria


def _order(shape: tuple) -> list:
    key, descending = shape[-1]
    if key == "occupancy":
        first = func.coalesce(_OCCUPANCY, -1).desc() if descending else func.coalesce(_OCCUPANCY, 2)
        return [first, Hospital.name, Hospital.id]
    if key == "name":
        return [c.desc() if descending else c for c in (Hospital.name, Hospital.id)]
    column = {"code": Hospital.code, "region": Hospital.region}[key]
    return [column.desc() if descending else column, Hospital.name, Hospital.id]


@functools.cache
def _list_statements(shape: tuple) -> tuple[Select, Select, Select]:
    """The export's statement, the page's and the count's, for one shape of query string."""
    criteria, order = _criteria(shape), _order(shape)
    everything = select(Hospital).where(*criteria).order_by(*order)
    count = select(func.count()).select_from(Hospital).where(*criteria)
    # The page's ids first (the filters' index, LIMIT/OFFSET), then only those 25 hospitals
    # are joined to their newest report: joined before the OFFSET, every skipped row's
    # newest report was looked up too. The total comes along as an uncorrelated subquery,
    # so the page and its total are one statement.
    ids = select(Hospital.id).where(*criteria).order_by(*order).limit(_LIMIT).offset(_OFFSET)
    ids = ids.subquery("page_ids")
    total = count.correlate(None).scalar_subquery().label("total")
    page = with_latest_report(
        select(Hospital, total).join(ids, ids.c.id == Hospital.id).order_by(*order)
    )
    return everything, page, count


def filtered_hospitals(filters) -> Select:
    """The hospitals the list's `filters` (forms.ListFilters, validated) select, in the order
    they ask for: the CSV export."""
    return _list_statements(_shape(filters))[0].params(**_params(filters))


def hospital_page(filters, page: int, per_page: int) -> tuple[list[Hospital], int]:
    """Page `page` of the list `filters` select, each hospital with its newest report, and
    the list's total: one statement (a second, the count, only past the last page, where no
    row brings the total)."""
    shape = _shape(filters)
    _everything, stmt, count = _list_statements(shape)
    params = _params(filters)
    rows = db.session.execute(
        stmt, {**params, "limit": per_page, "offset": (page - 1) * per_page}
    ).all()
    if rows:
        return [hospital for hospital, _total in rows], rows[0].total
    return [], 0 if page == 1 else db.session.scalar(count, params)


def archived_with_code(q: str | None) -> Hospital | None:
    """The archived hospital whose code is exactly `q` (any case), if any: a search of the
    active list for it can say where it went rather than find nothing."""
    if not q:
        return None
    return db.session.scalar(
        select(Hospital).where(
            Hospital.code == rules.normalise_code(q), Hospital.is_active.is_(False)
        )
    )


_HOSPITAL_ID = bindparam("hospital_id", type_=Integer)
# How many reports the hospital has, and how many of them are signed off (review/).
_REPORT_COUNTS = select(func.count(), func.count(Report.signed_off_at)).where(
    Report.hospital_id == _HOSPITAL_ID
)
_COUNTS = _REPORT_COUNTS.subquery("counts")
# A page of the hospital's reports, newest first, each row bringing both counts (a
# one-row derived table, read once): the page, its total and the sign-off state in one
# statement, built once.
_REPORT_PAGE = (
    select(Report, *_COUNTS.c)
    .join(_COUNTS, true())
    .where(Report.hospital_id == _HOSPITAL_ID)
    .order_by(Report.report_date.desc())
    .limit(_LIMIT)
    .offset(_OFFSET)
)


def report_page(hospital: Hospital, page: int, per_page: int) -> tuple[list[Report], int, int]:
    """Page `page` of `hospital`'s reports, newest first, for the table on its page; how many
    reports it has; how many of them are signed off. One statement (a second, the counts,
    only past the last page, where no row brings them)."""
    params = {"hospital_id": hospital.id, "limit": per_page, "offset": (page - 1) * per_page}
    rows = db.session.execute(_REPORT_PAGE, params).all()
    if rows:
        return [row[0] for row in rows], rows[0][1], rows[0][2]
    if page == 1:
        return [], 0, 0
    total, signed_off = db.session.execute(_REPORT_COUNTS, params).one()
    return [], total, signed_off


HOSPITAL_CHART_DAYS = 90


def hospital_chart(
    hospital: Hospital, end: date | None = None, days: int = HOSPITAL_CHART_DAYS
) -> Chart:
    """One hospital's bed and ICU occupancy, day by day to `end` (today): its own reports,
    one query."""
    end = end or rules.today()
    dates = days_ending(end, days)
    stmt = select(
        Report.report_date,
        Report.beds_occupied,
        Report.beds_total,
        Report.icu_beds_occupied,
        Report.icu_beds_total,
    ).where(
        Report.hospital_id == hospital.id,
        Report.report_date.between(dates[0], end),
    )
    by_day = {day: figures for day, *figures in db.session.execute(stmt)}
    return occupancy_chart(
        "chart-hospital",
        f"{hospital.name}: occupancy, last {days} days to {end.day} {end:%b %Y}",
        "Occupied beds over beds, and occupied ICU beds over ICU beds, as reported each day. "
        "Days without a report are gaps.",
        dates,
        by_day,
    )
