"""Runs the Celery command line with the clock set to the test's: the test process travels in
time (tests/conftest.py), and a worker it starts must see the same day, or a task would judge
dates against the real calendar. Test-only: `python -m tests.pinned_celery ISO-MOMENT celery-args…`."""

import datetime
import sys

import time_machine


def main() -> None:
    when = datetime.datetime.fromisoformat(sys.argv[1])
    sys.argv = ["celery", *sys.argv[2:]]
    with time_machine.travel(when, tick=True):
        from celery.__main__ import main as celery_main

        celery_main()


if __name__ == "__main__":
    main()
