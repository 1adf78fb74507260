"""Issue #15: no test slower than 15 s without a reason in its docstring.

Every test's setup and call are timed, in wall time and in CPU time of the test's process (its
threads included: the TestClient's event loop, a live server; not PostgreSQL's or Chromium's
processes). After the run the terminal summary lists each test whose setup and call together took
longer than ``SLOW_S`` of wall time and whose docstring does not say "slow because ...", with its
CPU time beside it, and those that do say why.

It is a report, not a failure: the project's tests have no wall-clock deadlines, because on a
shared 2-core machine the same test takes two or three times as long when others run, and a
test must not fail for the machine's load. The CPU time beside each entry tells load from cost.
``--timings=PATH`` also writes every test's phases (wall and CPU seconds) as JSON, for measuring
where the suite's time goes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: Issue #15's limit for a test without a reason, in seconds of setup + call.
SLOW_S = 15.0
REASON = "slow because"
_CPU = "cpu_s"
_HAS_REASON = "slow_reason_given"


@dataclass
class _Timing:
    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    reason: bool = False

    def setup_and_call(self) -> tuple[float, float]:
        phases = ("setup", "call")
        return (
            sum(self.wall.get(p, 0.0) for p in phases),
            sum(self.cpu.get(p, 0.0) for p in phases),
        )


_timings: dict[str, _Timing] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--timings",
        metavar="PATH",
        default=None,
        help="write each test's setup/call/teardown wall and CPU seconds to PATH as JSON",
    )


def _timed(item: pytest.Item) -> Generator[None, None, None]:
    start = time.process_time()
    yield
    item.user_properties.append((_CPU, time.process_time() - start))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    item.user_properties.append((_HAS_REASON, REASON in " ".join(doc.lower().split())))
    yield from _timed(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    yield from _timed(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    yield from _timed(item)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Runs where the results arrive (the controller under xdist): the CPU time of this phase is
    the last one the worker attached to the test."""
    timing = _timings.setdefault(report.nodeid, _Timing())
    timing.wall[report.when] = report.duration
    cpu = [value for key, value in report.user_properties if key == _CPU]
    if cpu:
        timing.cpu[report.when] = float(cpu[-1])
    timing.reason = timing.reason or any(
        bool(value) for key, value in report.user_properties if key == _HAS_REASON
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    slow = sorted(
        ((*t.setup_and_call(), nodeid, t.reason) for nodeid, t in _timings.items()),
        reverse=True,
    )
    slow = [row for row in slow if row[0] > SLOW_S]
    unexplained = [row for row in slow if not row[3]]
    explained = [row for row in slow if row[3]]
    if unexplained:
        terminalreporter.section(f"tests over {SLOW_S:.0f} s without '{REASON}' in their docstring")
        for wall, cpu, nodeid, _ in unexplained:
            terminalreporter.write_line(f"{wall:6.1f} s wall {cpu:6.1f} s CPU  {nodeid}")
    if explained:
        terminalreporter.section(f"tests over {SLOW_S:.0f} s that say why")
        for wall, cpu, nodeid, _ in explained:
            terminalreporter.write_line(f"{wall:6.1f} s wall {cpu:6.1f} s CPU  {nodeid}")
    path = config.getoption("--timings")
    if path:
        rows = {n: {"wall": t.wall, "cpu": t.cpu, "reason": t.reason} for n, t in _timings.items()}
        Path(path).write_text(json.dumps(rows, indent=1))
