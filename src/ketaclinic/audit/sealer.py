"""The app's background sealer: closes new audit events into seals every few seconds.

A thread, not a task of the event loop: sealing is blocking database work. Every app process runs
one; on PostgreSQL an advisory lock lets only one of them seal at a time, on SQLite the write lock.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic.audit.sealing import seal_pending

log = logging.getLogger(__name__)


class BackgroundSealer:
    def __init__(self, factory: sessionmaker[Session], interval_s: float) -> None:
        self.factory, self.interval_s = factory, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop after the seal in progress, then seal once more so nothing waits for a restart."""
        self._stop.set()
        self._thread.join()
        self._seal_once()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._seal_once()

    def _seal_once(self) -> None:
        try:
            seal_pending(self.factory)
        except SQLAlchemyError as error:
            # The events stay in the table and the next round seals them; say so without data.
            log.warning("audit sealing failed this round (%s); will retry", type(error).__name__)
