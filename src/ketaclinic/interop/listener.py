"""The MLLP listener wired to the database: each message is handled by ``service`` in a worker
thread (the database layer is synchronous), so many monitors' connections are served at once
while each connection gets its ACKs in order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.config import Settings
from ketaclinic.infusions import charting
from ketaclinic.interop import service
from ketaclinic.interop.mllp import Handler, MllpServer, start_server

logger = logging.getLogger(__name__)


#: Messages handled at once. A worker spends most of a message in psycopg's wait (for the
#: database's answer, and for the GIL while other threads run; cProfile of bench/mllp_bench.py),
#: so more threads than asyncio's default (CPUs + 4, 6 here) keep 8 monitors' messages in
#: flight; 12 stay under SQLAlchemy's default pool of 15 connections. The ceiling is the ~9 ms of
#: Python CPU a message costs (bench/mllp_bench.py), not the thread count.
WORKERS = 12


def make_handler(
    factory: sessionmaker[Session],
    settings: Settings,
    clinic_id: int,
    executor: ThreadPoolExecutor | None = None,
) -> Handler:
    """A handler that stores and answers one message per call, in its own transaction, in a
    thread of ``executor`` (asyncio's default one when None)."""
    zone = settings.timezone
    policy = charting.policy_of(settings)
    with factory() as session:
        device = service.ensure_device_account(session, clinic_id)

    def handle(payload: bytes) -> bytes:
        with factory() as session:
            return service.receive_payload(
                session,
                payload,
                clinic_id=clinic_id,
                zone=zone,
                now=clock.now(),
                policy=policy,
                device=device,
            )

    async def handler(payload: bytes) -> bytes:
        return await asyncio.get_running_loop().run_in_executor(executor, handle, payload)

    return handler


async def listen(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    clinic_id: int,
    host: str,
    port: int,
    ready: Callable[[MllpServer], None] | None = None,
) -> None:
    """Serve until cancelled; ``ready`` is told the listening server (its port when 0 was asked)."""
    executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="hl7")
    try:
        handler = make_handler(factory, settings, clinic_id, executor)
        server = await start_server(handler, host, port)
        logger.info("HL7 MLLP listener on %s:%d", host, server.port)
        if ready is not None:
            ready(server)
        try:
            await server.serve_forever()
        finally:
            await server.close()
    finally:
        executor.shutdown(wait=True)
