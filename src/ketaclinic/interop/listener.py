"""The MLLP listener wired to the database: each message is handled by ``service`` in a worker
thread (the database layer is synchronous), so many monitors' connections are served at once
while each connection gets its ACKs in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import signal
import socket
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ketaclinic import clock
from ketaclinic.config import Settings
from ketaclinic.db import make_engine, make_session_factory
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

    def receive(payload: bytes) -> bytes:
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

    def handle(payload: bytes) -> bytes:
        try:
            return receive(payload)
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
        # The database connection was lost (a restart, an idle connection dropped): the pool has
        # discarded it and every connection opened before it. Nothing of the message was kept
        # unless its COMMIT went through, which the MSH-10 dedupe then answers from; so the
        # message is handled once more, in a new transaction on a new connection.
        logger.warning("database connection lost; handling the message again on a new one")
        return receive(payload)

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
    reuse_port: bool = False,
) -> None:
    """Serve until cancelled; ``ready`` is told the listening server (its port when 0 was asked).
    ``reuse_port``: one of several processes listening on the port (``serve_processes``)."""
    executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="hl7")
    try:
        handler = make_handler(factory, settings, clinic_id, executor)
        server = await start_server(handler, host, port, reuse_port=reuse_port)
        logger.info("HL7 MLLP listener on %s:%d", host, server.port)
        if ready is not None:
            ready(server)
        try:
            await server.serve_forever()
        finally:
            await server.close()
    finally:
        executor.shutdown(wait=True)


def serve_processes(
    settings: Settings,
    *,
    clinic_id: int,
    host: str,
    port: int,
    processes: int,
    ready: Callable[[int], None],
) -> None:
    """Serve with ``processes`` listener processes sharing the port (SO_REUSEPORT), until one of
    them ends or this process is interrupted (SIGINT, SIGTERM); then every worker is stopped.

    One process runs Python on one core at a time (the GIL), and a message costs milliseconds of
    Python (bench/mllp_bench.py), so a listener for many monitors needs several. Each worker has
    its own engine and pool. The kernel gives each connection to one worker for its lifetime, so
    a connection's ACKs stay in order; a message repeated on another connection is stored once
    whichever worker gets it (the unique sender + MSH-10). ``ready`` is told the port once every
    worker listens."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    context = multiprocessing.get_context("spawn")  # no engine or thread is inherited
    with _reserved_port(host, port) as chosen:
        pipes = [context.Pipe(duplex=False) for _ in range(processes)]
        workers = [
            context.Process(
                target=_worker,
                args=(settings, clinic_id, host, chosen, sender),
                name=f"hl7-listener-{index}",
                daemon=True,
            )
            for index, (_, sender) in enumerate(pipes)
        ]
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            for worker in workers:
                worker.start()
            _wait_until_listening(workers, [receiver for receiver, _ in pipes])
            ready(chosen)
            multiprocessing.connection.wait([w.sentinel for w in workers])
            ended = [w.name for w in workers if not w.is_alive()]
            logger.error("HL7 listener worker %s ended; stopping the others", ", ".join(ended))
        finally:
            signal.signal(signal.SIGTERM, previous)
            _stop(workers)


def _interrupt(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def _reserved_port(host: str, port: int) -> Iterator[int]:
    """The port the workers share. Port 0 is resolved here by binding (not listening, so it takes
    no connection) a SO_REUSEPORT socket, held until every worker listens on the same port."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as reserved:
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind((host, port))
        yield int(reserved.getsockname()[1])


def _wait_until_listening(
    workers: Sequence[multiprocessing.process.BaseProcess],
    receivers: list[multiprocessing.connection.Connection],
) -> None:
    waiting = set(range(len(workers)))
    while waiting:
        for index in list(waiting):
            if receivers[index].poll(0.1):
                receivers[index].recv()
                waiting.discard(index)
            elif not workers[index].is_alive():
                raise RuntimeError(f"HL7 listener worker {workers[index].name} did not start")


def _stop(workers: Sequence[multiprocessing.process.BaseProcess]) -> None:
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: the worker closes its connections and exits
    for worker in workers:
        worker.join(timeout=30)
        if worker.is_alive():
            worker.kill()
            worker.join()


def _worker(
    settings: Settings,
    clinic_id: int,
    host: str,
    port: int,
    ready: multiprocessing.connection.Connection,
) -> None:
    """One listener process: its own engine (no ping per message, as ``hl7 listen``)."""
    engine = make_engine(settings, pre_ping=False)
    try:
        factory = make_session_factory(engine)

        async def run() -> None:
            serving = asyncio.create_task(
                listen(
                    factory,
                    settings,
                    clinic_id=clinic_id,
                    host=host,
                    port=port,
                    ready=lambda _server: ready.send(os.getpid()),
                    reuse_port=True,
                )
            )
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, serving.cancel)
            await asyncio.gather(serving, return_exceptions=True)

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run())
    finally:
        engine.dispose()
