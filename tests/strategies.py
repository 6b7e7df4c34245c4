"""Hypothesis strategies for the property suite (test_properties.py): text as people and
programs really send it to the forms and query strings, from nearly valid (a valid value with
white space around it, a count written "1,200") to hostile (control characters, NUL, other
scripts' digits, huge numbers, extreme dates, long strings)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import strategies as st

# White space of every kind a browser, a spreadsheet or a phone keyboard may send, including
# the ones str.split() treats as space and those it does not (zero-width, BOM).
WHITESPACE = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2003\u2007\u200a"
    "\u2028\u2029\u202f\u205f\u3000\u200b\ufeff"
)
# C0 and C1 controls (NUL first), DEL, and the bidi overrides and marks that reorder text.
CONTROL = (
    "".join(map(chr, range(32)))
    + "\x7f"
    + "".join(map(chr, range(0x80, 0xA0)))
    + "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Digits of other scripts that int() would accept: Arabic-Indic, extended Arabic-Indic,
# Devanagari, Bengali, Thai, full-width, mathematical bold.
OTHER_DIGITS = (
    "٠١٢٣٤٥٦٧٨٩",
    "۰۱۲۳۴۵۶۷۸۹",
    "०१२३४५६७८९",
    "০১২৩৪৫৬৭৮৯",
    "๐๑๒๓๔๕๖๗๘๙",
    "０１２３４５６７８９",
    "𝟎𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖𝟗",
)

# Any character a form can carry: no lone surrogates, which cannot be sent as UTF-8 at all.
any_char = st.characters(exclude_categories=["Cs"])

blank = st.text(alphabet=WHITESPACE, max_size=6)
controls = st.text(alphabet=CONTROL, min_size=1, max_size=4)


def long_text(char: str = "x") -> st.SearchStrategy[str]:
    return st.integers(min_value=200, max_value=6000).map(lambda n: char * n)


def nasty_text(max_size: int = 60) -> st.SearchStrategy[str]:
    """Text that is wrong in every way a person or a program manages."""
    return st.one_of(
        st.text(any_char, max_size=max_size),
        blank,
        controls,
        st.text(alphabet=CONTROL + "ab1 -", max_size=max_size),
        long_text(),
        long_text("é"),
        st.sampled_from(["\x00", "a\x00b", "null", "None", "NaN", "-", "0" * 400, "🏥"]),
    )


def nearly(valid: str) -> st.SearchStrategy[str]:
    """`valid`, as it is or with white space or a control character around or inside it."""
    return st.one_of(
        st.just(valid),
        st.builds(lambda a, b: a + valid + b, blank, blank),
        st.builds(lambda c: valid + c, controls),
        st.builds(lambda c: c + valid, controls),
        st.builds(
            lambda i, c: valid[:i] + c + valid[i:],
            st.integers(0, max(0, len(valid))),
            st.one_of(controls, st.text(WHITESPACE, min_size=1, max_size=2)),
        ),
        st.just(valid.upper()),
        st.just(valid.lower()),
    )


def mostly(valid: str, nasty: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """A field's value: nearly valid, or wrong."""
    return st.one_of(nearly(valid), nasty if nasty is not None else nasty_text())


# --- Numbers ---------------------------------------------------------------------------------


def _other_script(n: int, digits: str) -> str:
    return "".join(digits[int(d)] for d in str(n))


def count_text() -> st.SearchStrategy[str]:
    """A typed count: whole numbers in and out of range, huge and negative, written with
    groups, white space, other scripts' digits, decimals and exponents."""
    small = st.integers(min_value=0, max_value=300)
    return st.one_of(
        small.map(str),
        st.builds(lambda n, a, b: a + str(n) + b, small, blank, blank),
        st.integers(min_value=1000, max_value=99_999).map(lambda n: f"{n:,}"),
        st.integers(min_value=1000, max_value=99_999).map(lambda n: f"{n:,}".replace(",", " ")),
        st.integers().map(str),
        st.integers(min_value=10, max_value=6000).map(lambda k: "9" * k),
        st.integers(min_value=1, max_value=400).map(lambda k: "-" + "9" * k),
        st.integers(min_value=31, max_value=70).map(lambda k: str(2**k)),
        st.builds(_other_script, small, st.sampled_from(OTHER_DIGITS)),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.sampled_from(["1e3", "0x10", "0b1", "1_000", "+5", "-0", "12.0", "1,5", "٫", "½"]),
        blank,
        controls,
        st.builds(lambda n, c: str(n) + c, small, controls),
    )


def id_text() -> st.SearchStrategy[str]:
    """An id as it may appear in a URL or a form: in and far out of every database's range."""
    return st.one_of(
        st.integers(min_value=0, max_value=50).map(str),
        st.integers(min_value=2**31 - 2, max_value=2**31 + 2).map(str),
        st.integers(min_value=2**63 - 2, max_value=2**63 + 2).map(str),
        st.integers(min_value=2**64, max_value=10**400).map(str),
    )


# --- Dates -----------------------------------------------------------------------------------


def date_text(today: date) -> st.SearchStrategy[str]:
    """A typed day: recent ones, the calendar's ends, impossible days, other formats."""
    recent = st.integers(min_value=0, max_value=400).map(lambda k: today - timedelta(days=k))
    return st.one_of(
        recent.map(date.isoformat),
        st.builds(lambda d, a, b: a + d.isoformat() + b, recent, blank, blank),
        st.dates().map(date.isoformat),
        st.sampled_from(
            [
                "0001-01-01",
                "9999-12-31",
                "1999-12-31",
                "2000-01-01",
                "10000-01-01",
                "2026-02-30",
                "2026-13-01",
                "2026-00-10",
                "-0001-01-01",
                "+2026-01-01",
                "2026-1-1",
                "01/02/2026",
                "20260102",
                "2026-01-02T00:00",
                "today",
                "",
            ]
        ),
        st.builds(lambda d, c: d.isoformat() + c, recent, controls),
        st.builds(lambda d, ds: _other_script_date(d, ds), recent, st.sampled_from(OTHER_DIGITS)),
        nasty_text(20),
    )


def _other_script_date(day: date, digits: str) -> str:
    return "-".join(_other_script(int(part), digits) for part in day.isoformat().split("-"))


def time_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.times().map(lambda t: t.strftime("%H:%M")),
        st.sampled_from(["24:00", "23:60", "12", "12:00:00", "-1:00", "٢:٠٠", "12:00\x00"]),
        nasty_text(20),
    )


# --- Query strings ---------------------------------------------------------------------------

# Names the app's own url_for() and Werkzeug give a meaning to, and a few nobody uses.
STRANGE_NAMES = (
    "endpoint",
    "_method",
    "_external",
    "_anchor",
    "_scheme",
    "values",
    "hospital_id",
    "report_id",
    "account_id",
    "exception_id",
    "next",
    "csrf_token",
    "version",
    "utm_source",
    "",
    "\x00",
    "a[b]",
)


def query_pairs(known: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy:
    """A query string as (name, value) pairs: some of the page's own parameters (any of them
    repeated, in any order), unknown ones, and names the app uses itself."""
    names = st.sampled_from(sorted(known))
    own = names.flatmap(lambda name: st.tuples(st.just(name), known[name]))
    strange = st.tuples(
        st.one_of(st.sampled_from(STRANGE_NAMES), st.text(any_char, max_size=10)),
        st.one_of(nasty_text(20), st.sampled_from(["1", "x", "hospitals.index", "GET", "http"])),
    )
    return st.lists(st.one_of(own, own, strange), max_size=6)
