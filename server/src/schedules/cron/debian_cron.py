"""Debian cron's fire times, the reference of the cron differential test (differential.rs).

Reads one JSON object a line, {"expression", "zone", "from", "until", "count"} (instants in
RFC 3339, UTC), and answers each with a line {"fires": [...]} or {"error": "..."}: the first
`count` fire times strictly after `from` and not after `until`.

Days and times are cronsim's, which follows Debian cron, the day-field rule included, evaluated
over local wall-clock time. Where the two are meant to differ, the SPEC's DST rule replaces
Debian's (which runs a fixed-time job of a skipped hour right after the jump and may run
wildcard jobs twice): it is applied below to each wall-clock time, independently of the Rust
code: a local time that does not exist fires once, at the first instant after the gap; one
that occurs twice fires once, at its first occurrence.
"""

import json
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

# As Vixie cron expands them (cronsim reads only fields).
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def exists(wall, zone):
    return wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == wall


def instant(wall, zone):
    """The SPEC's instant for a wall-clock time: fold=0 is the first of a repeated time."""
    while not exists(wall, zone):
        wall = wall.replace(second=0) + timedelta(minutes=1)
    return wall.replace(tzinfo=zone, fold=0).astimezone(timezone.utc)


def fires(case):
    zone = ZoneInfo(case["zone"])
    after = datetime.fromisoformat(case["from"])
    until = datetime.fromisoformat(case["until"])
    fields = MACROS.get(case["expression"], case["expression"])
    out = []
    for wall in CronSim(fields, after.astimezone(zone).replace(tzinfo=None)):
        at = instant(wall, zone)
        if at > until or len(out) == case["count"]:
            break
        # Times of one gap land on one instant, and the first of a repeated time may lie before
        # `from`: each instant fires once, and only after `from`.
        if at > (out[-1] if out else after):
            out.append(at)
    return [at.strftime("%Y-%m-%dT%H:%M:%SZ") for at in out]


def main():
    for line in sys.stdin:
        case = json.loads(line)
        try:
            answer = {"fires": fires(case)}
        except (CronSimError, StopIteration) as err:
            answer = {"error": str(err) or type(err).__name__}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
