"""MLLP framing (HL7 v2 Appendix C) and an asyncio server and client for it.

Each message travels as 0x0B + message + 0x1C 0x0D over a TCP connection that a monitor gateway
keeps open (CODES.md §5.1). TCP delivers a byte stream, not messages, so one read may hold half a
message or several; :class:`MllpDecoder` turns reads back into whole payloads. The framing is
written here rather than taken from ``hl7.mllp`` so that a payload reaches the handler as bytes
even when it is not valid HL7, and the handler can answer it with an AR instead of the connection
dropping it.

The server answers each message before reading the next one's handler result (original-mode ACKs in
order). When the handler raises, the connection is closed without an ACK, so the sender resends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

START_BLOCK = b"\x0b"
END_BLOCK = b"\x1c\x0d"
# Bytes a sender may put between frames that carry no data (some gateways add a line break).
_IGNORABLE_BETWEEN_FRAMES = frozenset(b" \t\r\n")
# A vitals ORU^R01 is a few kilobytes; a cap stops a peer that never sends an end block from
# exhausting
# memory. Clinic policy, not a standard's number.
DEFAULT_MAX_MESSAGE_BYTES = 1_048_576

logger = logging.getLogger(__name__)

Handler = Callable[[bytes], Awaitable[bytes]]


class FramingError(ValueError):
    """The byte stream is not MLLP; the connection cannot be trusted further and is closed."""


def frame(payload: bytes) -> bytes:
    """One MLLP block; a payload holding a framing byte is refused, not sent corrupt."""
    if START_BLOCK in payload or b"\x1c" in payload:
        raise FramingError("payload contains an MLLP framing byte (0x0B or 0x1C)")
    return START_BLOCK + payload + END_BLOCK


def unframe(block: bytes) -> bytes:
    """The payload of exactly one MLLP block."""
    decoder = MllpDecoder()
    payloads = decoder.feed(block)
    if len(payloads) != 1 or decoder.pending:
        raise FramingError("expected exactly one complete MLLP block")
    return payloads[0]


class MllpDecoder:
    """Reassembles MLLP payloads from arbitrary slices of the byte stream."""

    def __init__(self, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self._buffer = bytearray()
        self._in_block = False
        self._max = max_message_bytes

    @property
    def pending(self) -> bool:
        """Whether a block has started and not yet ended."""
        return self._in_block

    def feed(self, data: bytes) -> list[bytes]:
        """Every payload completed by ``data``, in order."""
        payloads: list[bytes] = []
        view = memoryview(data)
        position = 0
        while position < len(view):
            if not self._in_block:
                position = self._skip_to_start(view, position)
                continue
            position = self._consume_block(view, position, payloads)
        return payloads

    def _skip_to_start(self, view: memoryview, position: int) -> int:
        byte = view[position]
        if byte == START_BLOCK[0]:
            self._in_block = True
            self._buffer.clear()
        elif byte not in _IGNORABLE_BETWEEN_FRAMES:
            raise FramingError(f"byte 0x{byte:02X} outside an MLLP block")
        return position + 1

    def _consume_block(self, view: memoryview, position: int, payloads: list[bytes]) -> int:
        chunk = bytes(view[position:])
        if self._buffer.endswith(b"\x1c"):
            # The end block was split between two reads.
            if chunk[:1] != b"\x0d":
                raise FramingError("0x1C inside an MLLP block not followed by 0x0D")
            payloads.append(self._finish(bytes(self._buffer[:-1])))
            return position + 1
        end = chunk.find(END_BLOCK)
        stop = len(chunk) if end < 0 else end
        body = chunk[:stop]
        if START_BLOCK in body:
            raise FramingError("a new MLLP block started before the previous one ended")
        if b"\x1c" in (body if end >= 0 else body[:-1]):
            raise FramingError("0x1C inside an MLLP block not followed by 0x0D")
        if len(self._buffer) + stop > self._max:
            raise FramingError(f"MLLP message longer than {self._max} bytes")
        self._buffer += body
        if end < 0:
            return position + len(chunk)
        payloads.append(self._finish(bytes(self._buffer)))
        return position + end + len(END_BLOCK)

    def _finish(self, payload: bytes) -> bytes:
        self._in_block = False
        self._buffer.clear()
        return payload


class MllpServer:
    """An asyncio MLLP listener: many persistent connections, one handler call per message."""

    def __init__(
        self,
        handler: Handler,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        read_size: int = 65536,
    ) -> None:
        self._handler = handler
        self._max = max_message_bytes
        self._read_size = read_size
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> None:
        """Listen; port 0 picks a free port (see :attr:`port`). ``reuse_port`` (SO_REUSEPORT)
        lets several processes listen on one port, the kernel spreading connections among them."""
        self._server = await asyncio.start_server(
            self._on_connection, host, port, reuse_port=reuse_port
        )

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def serve_forever(self) -> None:
        if self._server is None:
            raise RuntimeError("server is not listening")
        await self._server.serve_forever()

    async def close(self) -> None:
        """Stop listening and end open connections (un-ACKed messages will be resent by senders)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peer = writer.get_extra_info("peername")
        try:
            await self._serve_connection(reader, writer)
        except FramingError as error:
            logger.warning("MLLP connection from %s closed: %s", peer, error)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception as error:  # the handler failed: no ACK, the sender resends
            # Only the exception type: its message might quote patient data.
            logger.error("MLLP handler failed (%s); closing %s", type(error).__name__, peer)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            if task is not None:
                self._connections.discard(task)

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        decoder = MllpDecoder(self._max)
        while data := await reader.read(self._read_size):
            for payload in decoder.feed(data):
                ack = await self._handler(payload)
                writer.write(frame(ack))
                await writer.drain()


async def start_server(
    handler: Handler,
    host: str,
    port: int,
    *,
    max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    read_size: int = 65536,
    reuse_port: bool = False,
) -> MllpServer:
    """A listening :class:`MllpServer`."""
    server = MllpServer(handler, max_message_bytes=max_message_bytes, read_size=read_size)
    await server.start(host, port, reuse_port=reuse_port)
    return server


class MllpClient:
    """One persistent connection that sends messages and reads their ACKs in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._decoder = MllpDecoder()
        self._received: list[bytes] = []

    @classmethod
    async def connect(cls, host: str, port: int) -> MllpClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def send(self, payload: bytes) -> bytes:
        """Send one message and wait for its ACK."""
        await self.write_raw(frame(payload))
        return await self.read_ack()

    async def write_raw(self, data: bytes) -> None:
        """Bytes as given, for tests that split or join frames on purpose."""
        self._writer.write(data)
        await self._writer.drain()

    async def read_ack(self) -> bytes:
        """The next ACK payload from the server."""
        while not self._received:
            data = await self._reader.read(65536)
            if not data:
                raise ConnectionError("server closed the connection before acknowledging")
            self._received.extend(self._decoder.feed(data))
        return self._received.pop(0)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()
