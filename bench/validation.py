#!/usr/bin/env python
"""Validation of a large personalised audience against the same plain numbers.

    python bench/validation.py [--n 80000] [--repeat 3]

Validates N plain numbers (``validate_sms(text, numbers)``), then the same N numbers as
personalised recipients (``{"recipient": number, "name": ...}`` for a ``${name}`` text),
in one process and one run, and prints both times and their ratio. Target (issue 20 item
9): the maps take at most 2 x the plain numbers' time (it was 30 x at 80,000: a list
membership test per recipient made it quadratic). Nothing is asserted; nothing is written
to a database. Also the part ``validation`` of ``bench/bench.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # ``python bench/validation.py``: import the package, not this file
    ROOT = Path(__file__).resolve().parent.parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

from bench.common import recipient

TEMPLATE = "Ciao ${name}, your appointment is tomorrow."
PLAIN = "Ciao, your appointment is tomorrow."


def measure(n: int, repeat: int = 3) -> dict[str, Any]:
    """Best-of-``repeat`` seconds to validate ``n`` plain numbers and ``n`` maps, and the
    ratio maps / plain (Django must be set up)."""
    from django_smsrest.validation import validate_sms

    numbers = [recipient(i) for i in range(n)]
    maps = [{"recipient": number, "name": f"Name{i}"} for i, number in enumerate(numbers)]

    # Interleaved, best of ``repeat`` each: on a shared machine the load moves within
    # seconds, and both cases should meet the same moments.
    plain_times, maps_times = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        validate_sms(PLAIN, numbers)
        plain_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        validate_sms(TEMPLATE, maps)
        maps_times.append(time.perf_counter() - start)
    plain_s, maps_s = min(plain_times), min(maps_times)
    checked = validate_sms(TEMPLATE, maps)
    assert len(checked.recipients) == n and checked.credits == n
    return {"n": n, "plain_seconds": plain_s, "maps_seconds": maps_s, "ratio": maps_s / plain_s}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=80_000, help="recipients (default 80000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of R runs (default 3)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from bench.report import render_part, render_validation

    print(render_part(render_validation, measure(args.n, args.repeat)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
