"""EventBridge scheduled rules: `rate()` and `cron()` expressions, and the scheduler that fires them on the
emulator's clock (emulator/clock.py).

The expressions as AWS documents them (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html):
- `rate(value unit)`: a positive whole number of minute(s), hour(s) or day(s); the first firing one period after
  the rule is created (seen here), then every period;
- `cron(minutes hours day-of-month month day-of-week year)` in UTC: `*`, `,`, `-`, `/`, `?`, month names
  JAN-DEC, day names SUN-SAT (1 = SUN); one of day-of-month and day-of-week must be `?`. `L`, `W` and `#` are
  refused with a clear error (not emulated).
A scheduled rule's targets get AWS's "Scheduled Event" (source aws.events, the rule's ARN in `resources`).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from emulator.clock import ClockTicker, EmulatorClock

logger = logging.getLogger(__name__)

TICK_SECONDS = 1.0
MAX_CATCH_UP = 10  # firings per rule per tick after a jump of the clock; later ones are skipped (logged)
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name: i + 1 for i, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                                 "NOV", "DEC"))}
_DAYS = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_SEARCH_DAYS = 366 * 5


class ScheduleError(ValueError):
    """A schedule expression the emulator cannot read (or an AWS feature of one it does not emulate)."""


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.period


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: `?`
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # 1 = Sunday, as AWS counts
    years: frozenset[int]

    def next_after(self, moment: datetime) -> datetime:
        """The first whole minute after `moment` the expression names; ScheduleError when none in 5 years."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.replace(hour=0, minute=0)
        for _ in range(_SEARCH_DAYS):
            if self._matches_day(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        raise ScheduleError("the cron expression names no minute in the next five years")

    def _matches_day(self, day: datetime) -> bool:
        aws_weekday = (day.isoweekday() % 7) + 1  # Sunday 1 ... Saturday 7
        return (day.year in self.years and day.month in self.months
                and (self.days_of_month is None or day.day in self.days_of_month)
                and (self.days_of_week is None or aws_weekday in self.days_of_week))


Schedule = Rate | Cron


def parse_schedule(expression: str) -> Schedule:
    """A rate() or cron() expression; ScheduleError naming what is wrong."""
    rate = _RATE.match(expression.strip())
    if rate:
        value = int(rate.group(1))
        if value <= 0:
            raise ScheduleError(f"{expression}: the rate must be a positive number")
        return Rate(timedelta(seconds=value * _UNITS[rate.group(2).rstrip("s")]))
    cron = _CRON.match(expression.strip())
    if not cron:
        raise ScheduleError(f"{expression}: not a rate() or cron() expression")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(f"{expression}: cron() takes six fields (minutes hours day-of-month month "
                            f"day-of-week year), got {len(fields)}")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError(f"{expression}: exactly one of day-of-month and day-of-week must be '?'")
    return Cron(minutes=_field(minutes, 0, 59), hours=_field(hours, 0, 23),
                days_of_month=None if dom == "?" else _field(dom, 1, 31), months=_field(month, 1, 12, _MONTHS),
                days_of_week=None if dow == "?" else _field(dow, 1, 7, _DAYS), years=_field(year, 1970, 2199))


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.upper().split(","):
        if any(mark in part for mark in ("L", "W", "#")) and not (names and part[:3] in names):
            raise ScheduleError(f"cron field {text!r}: L, W and # are not emulated")
        span, _, step = part.partition("/")
        if span == "*":
            first, last = low, high
        else:
            first_text, _, last_text = span.partition("-")
            first = _value(first_text, low, high, names)
            last = _value(last_text, low, high, names) if last_text else (high if step else first)
        span_values = list(range(first, last + 1)) if first <= last else [  # SAT-SUN wraps around
            *range(first, high + 1), *range(low, last + 1)]
        values.update(span_values[::int(step) if step else 1])
    return frozenset(values)


def _value(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    value = names[text] if names and text in names else int(text) if text.isdigit() else None
    if value is None or not low <= value <= high:
        raise ScheduleError(f"cron value {text!r} is not between {low} and {high}")
    return value


def scheduled_event(rule_arn: str, moment: datetime) -> dict[str, Any]:
    """The event a scheduled rule sends its targets."""
    parts = rule_arn.split(":")
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": parts[4], "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": parts[3],
            "resources": [rule_arn], "detail": {}}


Deliver = Callable[[dict[str, Any], list[dict[str, Any]], dict[str, Any]], None]


class Scheduler:
    """Fires the enabled scheduled rules of every account's default bus, read every tick (`list_rules`: ListRules'
    shape plus each rule's `Targets`)."""

    def __init__(self, list_rules: Callable[[], list[dict[str, Any]]], deliver: Deliver, clock: EmulatorClock) -> None:
        self._list_rules = list_rules
        self._deliver = deliver
        self._clock = clock
        self._next: dict[tuple[str, str], datetime] = {}
        self._listed_at: datetime | None = None  # the clock at the previous tick, which listed the rules after it
        self._ticker = ClockTicker("eventbridge-scheduler", self._tick_logged, clock, TICK_SECONDS)

    def start(self) -> None:
        self._ticker.start()

    def stop(self) -> None:
        self._ticker.stop()

    def tick(self) -> int:
        """Fires every rule that is due on the clock; returns how many firings.

        A rule first seen now was made after the previous tick read the clock, so its schedule counts from that
        reading: a clock moved forward before a tick saw the rule still fires it (at real speed that is at most one
        tick, a second, early; EventBridge keeps a minute's granularity)."""
        now, fired, seen = self._clock.now(), 0, set()
        made_after, self._listed_at = self._listed_at or now, now
        for rule in self._scheduled_rules():
            key = (rule["Arn"], rule["ScheduleExpression"])
            seen.add(key)
            try:
                schedule = parse_schedule(rule["ScheduleExpression"])
            except ScheduleError as exc:
                if key not in self._next:
                    logger.error("scheduled rule %s never fires: %s", rule["Name"], exc)
                    self._next[key] = datetime.max.replace(tzinfo=now.tzinfo)
                continue
            due = self._next.setdefault(key, schedule.next_after(made_after))
            fired += self._fire_due(rule, schedule, due, now)
        for key in set(self._next) - seen:
            del self._next[key]
        return fired

    def _fire_due(self, rule: dict[str, Any], schedule: Schedule, due: datetime, now: datetime) -> int:
        key, fired = (rule["Arn"], rule["ScheduleExpression"]), 0
        while due <= now:
            if fired < MAX_CATCH_UP:
                self._deliver({"Arn": rule["Arn"], "Name": rule["Name"]}, rule["Targets"],
                              scheduled_event(rule["Arn"], due))
            elif fired == MAX_CATCH_UP:
                logger.warning("scheduled rule %s: the clock jumped past more than %d firings; later ones skipped",
                               rule["Name"], MAX_CATCH_UP)
            fired += 1
            due = schedule.next_after(due)
        self._next[key] = due
        return min(fired, MAX_CATCH_UP)

    def _scheduled_rules(self) -> list[dict[str, Any]]:
        return [r for r in self._list_rules() if r.get("ScheduleExpression") and r.get("State") == "ENABLED"]

    def _tick_logged(self) -> None:
        try:
            self.tick()
        except RuntimeError as exc:  # a rule's targets changed while they were copied
            logger.warning("scheduled rules changed while they were read (%s): read again next tick", exc)
