"""Rotation schedules (gitsm/schedule.py): AWS's forms, their windows, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gitsm.errors import InvalidParameterException
from gitsm.schedule import Rules, next_window, reported_days, validate_rules

LAST = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)  # a Tuesday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "duration", "opens", "closes"),
    [
        ("rate(10 days)", None, "2031-05-16T00:00", "2031-05-17T00:00"),
        ("rate(1 day)", "3h", "2031-05-07T00:00", "2031-05-07T03:00"),
        ("rate(4 hours)", None, "2031-05-06T11:00", "2031-05-06T12:00"),
        ("rate(12 hours)", "12h", "2031-05-06T19:00", "2031-05-07T07:00"),
        ("cron(0 4 ? * SUN *)", None, "2031-05-11T04:00", "2031-05-12T00:00"),
        ("cron(0 16 L * ? *)", None, "2031-05-31T16:00", "2031-06-01T00:00"),
        ("cron(0 0 ? * SUN#1 *)", None, "2031-06-01T00:00", "2031-06-02T00:00"),
        ("cron(0 8 1/7 * ? *)", "4h", "2031-05-08T08:00", "2031-05-08T12:00"),
        ("cron(0 4/12 * * ? *)", None, "2031-05-06T16:00", "2031-05-06T17:00"),
        ("cron(0 10 ? FEB,MAY,AUG,NOV TUE#2 *)", "2h", "2031-05-13T10:00", "2031-05-13T12:00"),
        ("cron(0 0 15W * ? *)", None, "2031-05-15T00:00", "2031-05-16T00:00"),
        ("cron(0 0 LW * ? *)", None, "2031-05-30T00:00", "2031-05-31T00:00"),
        ("cron(0 6 ? * 6L *)", None, "2031-05-30T06:00", "2031-05-31T00:00"),
        ("cron(0 0 29 2 ? *)", None, "2032-02-29T00:00", "2032-03-01T00:00"),
        ("cron(0 7 * * ? *)", None, "2031-05-07T07:00", "2031-05-08T00:00"),
    ],
)
def test_windows(expression: str, duration: str | None, opens: str, closes: str) -> None:
    rules = validate_rules({"ScheduleExpression": expression} | (
        {"Duration": duration} if duration else {}))  # fmt: skip
    assert next_window(rules, LAST) == (at(opens), at(closes))


def test_days_after_the_last_rotation_open_at_midnight() -> None:
    rules = validate_rules({"AutomaticallyAfterDays": 30})
    assert next_window(rules, LAST) == (at("2031-06-05T00:00"), at("2031-06-06T00:00"))
    assert reported_days(rules) == 30
    assert reported_days(Rules(schedule="rate(10 days)")) == 10
    assert reported_days(Rules(schedule="rate(12 hours)")) is None
    assert reported_days(Rules(schedule="cron(0 4 ? * SUN *)")) is None


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"AutomaticallyAfterDays": 0}, "RotationRules.AutomaticallyAfterDays must be within 1-1000."),
        ({"AutomaticallyAfterDays": True}, "RotationRules.AutomaticallyAfterDays must be within"),
        ({"AutomaticallyAfterDays": 5, "ScheduleExpression": "rate(5 days)"},
         "You cannot specify both rotation frequency and schedule expression together."),
        ({}, "RotationRules must set the schedule"),
        ({"Duration": "2h"}, "RotationRules must set the schedule"),
        ({"AutomaticallyAfterDays": 1, "Bogus": 1}, "unknown member(s) Bogus"),
        ({"ScheduleExpression": "rate(1000 days)"}, "a rate in days must be 1-999"),
        ({"ScheduleExpression": "rate(3 hours)"}, "at most every four hours"),
        ({"ScheduleExpression": "rate(0 days)"}, "a rate in days must be 1-999"),
        ({"ScheduleExpression": "cron(0 4 * * ?)"}, "has six fields"),
        ({"ScheduleExpression": "cron(0 4 * * ? 2031)"}, "the year field must be *"),
        ({"ScheduleExpression": "cron(0 25 * * ? *)"}, "'25' is not a value from 0 to 23"),
        ({"ScheduleExpression": "cron(0 */2 * * ? *)"}, "at most every four hours"),
        ({"ScheduleExpression": "cron(0 4 ? * FUNDAY *)"}, "'FUNDAY' is not a value"),
        ({"ScheduleExpression": "cron(0 4 * * * *)"}, "one of Day-of-month and Day-of-week"),
        ({"ScheduleExpression": "cron(0 4 10-5 * ? *)"}, "runs backwards"),
        ({"ScheduleExpression": "cron(0 0 30 2 ? *)"}, "it names no date"),
        ({"ScheduleExpression": "rate(5 days);"}, "ScheduleExpression must be 1-256 characters"),
        ({"ScheduleExpression": "rate(5 days)", "Duration": "0h"}, "from 1h to 24h"),
        ({"ScheduleExpression": "rate(5 days)", "Duration": "3"}, "from 1h to 24h"),
        ({"ScheduleExpression": "cron(0 22 * * ? *)", "Duration": "3h"}, "next UTC day"),
        ({"ScheduleExpression": "cron(0 0/6 * * ? *)", "Duration": "7h"}, "next rotation window"),
        ("30 days", "RotationRules must be a structure"),
    ],
)  # fmt: skip
def test_refused(rules: object, message: str) -> None:
    with pytest.raises(InvalidParameterException) as info:
        validate_rules(rules)
    assert message in info.value.message
