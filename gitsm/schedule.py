"""Rotation schedules: AWS's RotationRules checked, and when each rotation window opens and closes.

A schedule is ``AutomaticallyAfterDays`` (1-1000) or a ``ScheduleExpression``: ``rate(N days)``
(1-999), ``rate(N hours)`` (at least 4) or ``cron(Minutes Hours Day-of-month Month Day-of-week
Year)`` in AWS's form (minutes ``0``, year ``*``, one of the two day fields ``?``). ``Duration``
(``1h``-``24h``) is the length of the window; by default it closes after one hour for a schedule
in hours and at the end of the UTC day for one in days. The window must not reach into the next
UTC day (a schedule in days) or into the next window (a schedule in hours).

When the next window opens: for days, at midnight UTC of the day ``N`` days after the last
rotation; for ``rate(N hours)``, ``N`` hours after the hour the last rotation happened in; for
cron, at the first hour the expression names after the hour of the last rotation.

Pure: no clock of its own (times are passed in), UTC throughout. Errors are
InvalidParameterException, never with a value in them (rules hold none).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from gitsm.errors import InvalidParameterException

DAYS_MAX = 1000
RATE_DAYS_MAX = 999
RATE_HOURS_MIN = 4
SCHEDULE_MAX = 256
SEARCH_DAYS = 4 * 366 + 1
"""How far ahead a cron schedule is searched: every date pattern (29 February) recurs in it."""

AFTER_DAYS_RANGE = "RotationRules.AutomaticallyAfterDays must be within 1-1000."
BOTH = "You cannot specify both rotation frequency and schedule expression together."
_SCHEDULE_CHARS = re.compile(r"[0-9A-Za-z()#?*\-/, ]+")
_RATE = re.compile(r"rate\(\s*([0-9]{1,6})\s+(hour|hours|day|days)\s*\)")
_CRON = re.compile(r"cron\((.*)\)")
_DURATION = re.compile(r"([0-9]{1,2})h")
MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


@dataclass(frozen=True)
class Rules:
    """RotationRules as stored: one of ``after_days`` and ``schedule``, and an optional
    ``duration`` (``Nh``)."""

    after_days: int | None = None
    schedule: str | None = None
    duration: str | None = None


def _bad(expression: str, why: str) -> InvalidParameterException:
    return InvalidParameterException(f"Invalid ScheduleExpression {expression}: {why}.")


def validate_rules(rules: object) -> Rules:
    """RotationRules (``{"AutomaticallyAfterDays": N}`` or ``{"ScheduleExpression": ...}``, with
    an optional ``Duration``) checked as AWS checks them."""
    if not isinstance(rules, dict):
        raise InvalidParameterException(
            "RotationRules must be a structure: AutomaticallyAfterDays or ScheduleExpression, "
            "and an optional Duration."
        )
    unknown = sorted(set(rules) - {"AutomaticallyAfterDays", "ScheduleExpression", "Duration"})
    if unknown:
        raise InvalidParameterException(
            f"RotationRules has unknown member(s) {', '.join(map(str, unknown))}: it takes "
            "AutomaticallyAfterDays, ScheduleExpression and Duration."
        )
    days, expression = rules.get("AutomaticallyAfterDays"), rules.get("ScheduleExpression")
    duration = rules.get("Duration")
    if days is not None and expression is not None:
        raise InvalidParameterException(BOTH)
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= DAYS_MAX
    ):
        raise InvalidParameterException(AFTER_DAYS_RANGE)
    if days is None and expression is None:
        raise InvalidParameterException(
            "RotationRules must set the schedule: AutomaticallyAfterDays or ScheduleExpression."
        )
    if duration is not None and (
        not isinstance(duration, str) or not (m := _DURATION.fullmatch(duration))
        or not 1 <= int(m[1]) <= 24
    ):  # fmt: skip
        raise InvalidParameterException(
            "RotationRules.Duration must be a number of hours from 1h to 24h, such as 3h."
        )
    out = Rules(days, expression, duration)
    parse(out)  # the expression's syntax and the window's fit
    return out


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: the next opening after a time, and the window's length."""

    opens_after: Callable[[datetime], datetime]
    window: timedelta
    days: int | None
    """The number of days between rotations, for a schedule in whole days (DescribeSecret's
    AutomaticallyAfterDays)."""


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _midnight(moment: datetime) -> datetime:
    return _hour(moment).replace(hour=0)


def _window(duration: str | None, default: int, fits: int, expression: str) -> timedelta:
    hours = int(duration[:-1]) if duration is not None else default
    if hours > fits:
        raise _bad(expression, f"a rotation window of {hours}h would reach into the next UTC day "
                   "or the next rotation window; choose a shorter Duration")  # fmt: skip
    return timedelta(hours=hours)


def parse(rules: Rules) -> Schedule:
    """The schedule ``rules`` describe (InvalidParameterException when they describe none)."""
    if rules.after_days is not None:
        return _days(rules.after_days, rules.duration, f"AutomaticallyAfterDays {rules.after_days}")
    expression = rules.schedule or ""
    if not 1 <= len(expression) <= SCHEDULE_MAX or not _SCHEDULE_CHARS.fullmatch(expression):
        raise InvalidParameterException(
            f"ScheduleExpression must be 1-{SCHEDULE_MAX} characters of letters, digits, spaces "
            "and ()#?*-/, such as rate(10 days) or cron(0 4 ? * SUN *)."
        )
    if m := _RATE.fullmatch(expression):
        value, unit = int(m[1]), m[2]
        if unit.startswith("day"):
            if not 1 <= value <= RATE_DAYS_MAX:
                raise _bad(expression, f"a rate in days must be 1-{RATE_DAYS_MAX}")
            return _days(value, rules.duration, expression)
        if not RATE_HOURS_MIN <= value <= RATE_DAYS_MAX * 24:
            raise _bad(expression, "you can rotate a secret at most every four hours "
                       "(rate(4 hours))")  # fmt: skip
        window = _window(rules.duration, 1, value, expression)
        return Schedule(lambda last: _hour(last) + timedelta(hours=value), window, None)
    if m := _CRON.fullmatch(expression):
        return _cron(m[1], rules.duration, expression)
    raise _bad(expression, "use rate(N days), rate(N hours) or cron(Minutes Hours Day-of-month "
               "Month Day-of-week Year)")  # fmt: skip


def _days(days: int, duration: str | None, expression: str) -> Schedule:
    window = _window(duration, 24, 24, expression)
    return Schedule(lambda last: _midnight(last) + timedelta(days=days), window, days)


# -- cron ----------------------------------------------------------------------------------------


def _number(text: str, names: dict[str, int], low: int, high: int, expression: str) -> int:
    value = names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise _bad(expression, f"{text!r} is not a value from {low} to {high}")
    return value


def _values(field: str, names: dict[str, int], low: int, high: int, expression: str) -> set[int]:
    """The values a plain cron field (``*``, ``a``, ``a-b``, each with an optional ``/step``,
    separated by commas) names."""
    out: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = _number(step_text, {}, 1, high, expression) if step_text else 1
        if base in ("*", "?"):
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first = _number(a, names, low, high, expression)
            last = _number(b, names, low, high, expression)
            if last < first:
                raise _bad(expression, f"the range {base} runs backwards")
        else:
            first = _number(base, names, low, high, expression)
            last = high if step_text else first
        out.update(range(first, last + 1, step))
    return out


def _weekday(day: date) -> int:
    """AWS's day-of-week number: 1 = Sunday ... 7 = Saturday."""
    return (day.weekday() + 1) % 7 + 1


def _day_matcher(dom: str, dow: str, expression: str) -> Callable[[date], bool]:
    """Whether a date matches the day-of-month or the day-of-week field (the other is ``?``)."""
    if (dom == "?") == (dow == "?"):
        raise _bad(expression, "one of Day-of-month and Day-of-week must be ? (and only one)")
    if dow == "?":
        tests = [_month_day_test(item, expression) for item in dom.split(",")]
    else:
        tests = [_weekday_test(item, expression) for item in dow.split(",")]

    def matches(day: date) -> bool:
        return any(test(day) for test in tests)

    return matches


def _month_day_test(item: str, expression: str) -> Callable[[date], bool]:
    """One item of Day-of-month: ``L`` (the last day), ``LW`` (the last weekday), ``nW`` (the
    weekday nearest day n), or plain values."""
    if item in ("L", "LW"):
        weekday = item == "LW"
        return lambda day: day == _last_day(day, weekday=weekday)
    if item.endswith("W") and item[:-1].isdigit():
        n = _number(item[:-1], {}, 1, 31, expression)
        return lambda day: day == _nearest_weekday(day, n)
    days = _values(item, {}, 1, 31, expression)
    return lambda day: day.day in days


def _weekday_test(item: str, expression: str) -> Callable[[date], bool]:
    """One item of Day-of-week: ``d#n`` (the n-th weekday d of the month), ``dL`` (the last
    weekday d), ``L`` (Saturday), or plain values."""
    if "#" in item:
        a, _, b = item.partition("#")
        wd, nth = _number(a, WEEKDAYS, 1, 7, expression), _number(b, {}, 1, 5, expression)
        return lambda day: _weekday(day) == wd and (day.day - 1) // 7 + 1 == nth
    if item.endswith("L") and len(item) > 1:
        last = _number(item[:-1], WEEKDAYS, 1, 7, expression)
        return lambda day: _weekday(day) == last and day.day + 7 > _month_days(day)
    wds = _values("7" if item == "L" else item, WEEKDAYS, 1, 7, expression)
    return lambda day: _weekday(day) in wds


def _month_days(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _last_day(day: date, *, weekday: bool) -> date:
    last = day.replace(day=_month_days(day))
    while weekday and last.weekday() >= 5:
        last -= timedelta(days=1)
    return last


def _nearest_weekday(day: date, n: int) -> date | None:
    """The weekday nearest to day ``n`` of ``day``'s month, within the month (cron's ``nW``)."""
    if n > _month_days(day):
        return None
    target = day.replace(day=n)
    if target.weekday() == 5:  # Saturday: the Friday before, or the Monday after the 1st
        return target - timedelta(days=1) if n > 1 else target + timedelta(days=2)
    if target.weekday() == 6:  # Sunday: the Monday after, or the Friday before the last day
        return target + timedelta(days=1) if n < _month_days(day) else target - timedelta(days=2)
    return target


def _cron(body: str, duration: str | None, expression: str) -> Schedule:
    fields = body.split()
    if len(fields) != 6:
        raise _bad(expression, "a cron expression has six fields: Minutes Hours Day-of-month "
                   "Month Day-of-week Year")  # fmt: skip
    minutes, hours_f, dom, month_f, dow, year = fields
    if minutes != "0":
        raise _bad(expression, "the minutes field must be 0 (rotation windows open on the hour)")
    if year != "*":
        raise _bad(expression, "the year field must be *")
    hours = sorted(_values(hours_f, {}, 0, 23, expression))
    months = _values(month_f, MONTHS, 1, 12, expression)
    day_ok = _day_matcher(dom, dow, expression)
    if len(hours) > 1:
        gaps = [b - a for a, b in zip(hours, [*hours[1:], hours[0] + 24], strict=True)]
        window = _window(duration, 1, min(gaps), expression)
        if min(gaps) < RATE_HOURS_MIN:
            raise _bad(expression, "you can rotate a secret at most every four hours")
    else:
        window = _window(duration, 24 - hours[0], 24 - hours[0], expression)

    def opens_after(last: datetime) -> datetime:
        after = _hour(last)
        day = after.date()
        for _ in range(SEARCH_DAYS):
            if day.month in months and day_ok(day):
                for hour in hours:
                    moment = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
                    if moment > after:
                        return moment
            day += timedelta(days=1)
        raise _bad(expression, "it names no date")

    opens_after(datetime(2000, 1, 1, tzinfo=UTC))  # one that never matches is refused now
    return Schedule(opens_after, window, None)


def next_window(rules: Rules, last: datetime) -> tuple[datetime, datetime]:
    """When the first rotation window after ``last`` opens and closes (NextRotationDate is the
    close: "the next rotation is scheduled to occur on or before this date")."""
    schedule = parse(rules)
    opens = schedule.opens_after(last)
    return opens, opens + schedule.window


def window_close(rules: Rules, opens: datetime) -> datetime:
    """When the window that opens at ``opens`` closes."""
    return opens + parse(rules).window


def reported_days(rules: Rules) -> int | None:
    """DescribeSecret's AutomaticallyAfterDays: as set, or the days of a ``rate(N days)``."""
    if rules.after_days is not None:
        return rules.after_days
    try:
        return parse(rules).days
    except InvalidParameterException:
        return None
