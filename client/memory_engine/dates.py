"""Dates a message names, and how well each memory's date matches them.

"What book did Tim finish on 8th December, 2023?" is about what was said that day: the
engine knows when each memory was said (its session's date), so a memory said on the
named day (or in the named month or year) gains a bonus in retrieval. Only explicit
calendar dates are read ("8 May 2023", "May 8, 2023", "January 2024", "in 2024", "in
June"); relative ones ("last week") would need the date the message was sent, which the
engine does not assume.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_DAY = r"(\d{1,2})(?:st|nd|rd|th)?"
_MONTH_NAMES = "|".join(MONTHS)
_DATE = re.compile(
    rf"\b(?:{_DAY}\s+(?:of\s+)?)?({_MONTH_NAMES})(?:\s+{_DAY})?,?(?:\s+(\d{{4}}))?\b"
    rf"|\b((?:19|20)\d\d)\b",
    re.IGNORECASE,
)
# A day named to within this many days of the memory's still counts, a little: a session
# dated the 9th often tells what happened on the 8th.
NEAR_DAYS = 3
# Scores of each kind of match, best first (the ordering is what matters: a named day
# beats a named month beats a named year; the bonus's size is EngineConfig.date_weight).
SAME_DAY, NEAR_DAY, SAME_MONTH, SAME_YEAR = 1.0, 0.5, 0.5, 0.25
DAY_IN_MONTH_ONLY = 0.25  # a day was named, the memory is from that month but not near it


@dataclass(frozen=True)
class NamedDate:
    """A calendar date as far as the message names it (None: not named)."""

    year: int | None
    month: int | None
    day: int | None


def named_dates(message: str) -> list[NamedDate]:
    """The calendar dates in ``message`` ("8th December, 2023" -> 2023-12-8)."""
    found = []
    for match in _DATE.finditer(message):
        if match.group(5):
            found.append(NamedDate(int(match.group(5)), None, None))
            continue
        day = match.group(1) or match.group(3)
        year = int(match.group(4)) if match.group(4) else None
        if match.group(2) == "may" and day is None and year is None:
            continue  # the verb ("what may she..."), not the month
        month = MONTHS.index(match.group(2).lower()) + 1
        found.append(NamedDate(year, month, int(day) if day else None))
    return found


def date_match(times: npt.NDArray[np.float64], message: str) -> npt.NDArray[np.float32]:
    """Per memory (POSIX seconds in ``times``; 0 unknown), how well it matches a named date.

    1 for the named day, 0.5 within three days of it or in a named month, 0.25 in a named
    year (or the named day's month); the best over the dates the message names; 0 when
    it names none.
    """
    best = np.zeros(times.shape[0], dtype=np.float32)
    dates = named_dates(message)
    if not dates or times.shape[0] == 0:
        return best
    moments = times.astype("datetime64[s]")
    years = moments.astype("datetime64[Y]").astype(np.int64) + 1970
    months = moments.astype("datetime64[M]").astype(np.int64) % 12 + 1
    days = (moments.astype("datetime64[D]") - moments.astype("datetime64[M]")).astype(np.int64)
    days = days + 1
    known = times > 0
    for date in dates:
        inside = known.copy()
        if date.year is not None:
            inside &= years == date.year
        if date.month is not None:
            inside &= months == date.month
        best = np.maximum(best, np.where(inside, _score(date, days), 0.0).astype(np.float32))
    return best


def _score(date: NamedDate, days: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    if date.month is None:
        return np.full(days.shape[0], SAME_YEAR)
    if date.day is None:
        return np.full(days.shape[0], SAME_MONTH)
    apart = np.abs(days - date.day)
    return np.where(apart == 0, SAME_DAY, np.where(apart <= NEAR_DAYS, NEAR_DAY, DAY_IN_MONTH_ONLY))
