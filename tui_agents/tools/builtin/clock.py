"""``current_time``: the date and time now, in any IANA time zone."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from ...errors import InvalidArgumentError
from ..decorator import tool

__all__ = ["current_time", "format_time", "resolve_zone"]

_UTC_NAMES = {"utc", "z", "gmt", "etc/utc", "etc/gmt"}


def resolve_zone(name: str | None) -> dt.tzinfo | None:
    """The zone called ``name`` (``None`` means the machine's local zone), or a clear error."""
    if name is None or not name.strip():
        return None
    name = name.strip()
    if name.lower() in _UTC_NAMES:
        return dt.timezone.utc  # works even where no time-zone database is installed
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgumentError(
            f"Unknown time zone {name!r}; use an IANA name such as 'Europe/London', "
            "'America/New_York' or 'Asia/Tokyo'."
        ) from None


def format_time(moment: dt.datetime, zone_name: str) -> str:
    """One line a model reads easily: weekday, date, time, zone and UTC offset, then ISO 8601."""
    offset = moment.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    abbreviation = moment.tzname() or ""
    label = f"{zone_name} ({abbreviation}, {offset})" if abbreviation and abbreviation != zone_name else f"{zone_name} ({offset})"
    return f"{moment:%A %d %B %Y, %H:%M:%S} {label}; ISO 8601: {moment.isoformat(timespec='seconds')}"


@tool(
    description=(
        "Get the current date and time. Pass an IANA time zone such as 'Europe/London' for the time "
        "there; without one, the time zone of the machine running the assistant is used."
    ),
    register=False,
)
def current_time(
    timezone: Annotated[
        str | None, Field(description="IANA time zone name, e.g. 'America/New_York'. Optional.")
    ] = None,
) -> str:
    """The date and time now, time-zone aware."""
    zone = resolve_zone(timezone)
    if zone is None:
        moment = dt.datetime.now().astimezone()
        return format_time(moment, "local time")
    moment = dt.datetime.now(zone)
    return format_time(moment, "UTC" if zone is dt.timezone.utc else str(timezone).strip())
