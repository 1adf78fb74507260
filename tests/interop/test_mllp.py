"""MLLP over real sockets on 127.0.0.1: split reads, several messages per read, an ACK for each.

The handler is in memory (parse + ACK, no database). ``asyncio.wait_for`` only guards against a hang;
no test measures speed.
"""

import asyncio
import itertools
import random
from datetime import UTC, datetime

import hl7
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ketaclinic.interop.hl7_core import (
    ack_for,
    decode_payload,
    parse_message,
    sample_oru_r01,
    sample_vitals,
)
from ketaclinic.interop.mllp import (
    END_BLOCK,
    START_BLOCK,
    FramingError,
    MllpClient,
    MllpDecoder,
    MllpServer,
    frame,
    start_server,
    unframe,
)

HANG_GUARD_SECONDS = 60
NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
payload_bytes = st.binary(max_size=300).map(lambda b: b.replace(b"\x0b", b"").replace(b"\x1c", b""))


@given(
    payloads=st.lists(payload_bytes, max_size=6),
    cuts=st.lists(st.integers(min_value=0), max_size=12),
    gap=st.sampled_from([b"", b"\r\n"]),
)
def test_any_split_of_a_framed_stream_gives_back_every_payload_in_order(payloads, cuts, gap):
    stream = gap.join(frame(p) for p in payloads)
    points = sorted({cut % (len(stream) + 1) for cut in cuts})
    pieces = [stream[a:b] for a, b in itertools.pairwise([0, *points, len(stream)])]
    decoder = MllpDecoder()
    received = [payload for piece in pieces for payload in decoder.feed(piece)]
    assert received == payloads
    assert not decoder.pending


@given(payload_bytes)
def test_unframe_inverts_frame(payload):
    assert unframe(frame(payload)) == payload


@pytest.mark.parametrize(
    ("stream", "words"),
    [
        (b"junk" + frame(b"MSH"), "outside an MLLP block"),
        (START_BLOCK + b"MSH" + START_BLOCK + b"MSH" + END_BLOCK, "before the previous one ended"),
        (START_BLOCK + b"MS\x1cH" + END_BLOCK, "0x1C inside"),
        (START_BLOCK + b"x" * 11, "longer than 10 bytes"),
    ],
)
def test_a_stream_that_is_not_mllp_is_refused(stream, words):
    with pytest.raises(FramingError, match=words):
        MllpDecoder(max_message_bytes=10).feed(stream)


def test_split_end_block_without_carriage_return_is_refused():
    decoder = MllpDecoder()
    assert decoder.feed(START_BLOCK + b"MSH\x1c") == []
    with pytest.raises(FramingError, match="0x1C inside"):
        decoder.feed(b"X")


def test_frame_refuses_framing_bytes_and_unframe_needs_one_block():
    with pytest.raises(FramingError):
        frame(b"a\x0bb")
    with pytest.raises(FramingError, match="exactly one"):
        unframe(frame(b"a") + frame(b"b"))
    with pytest.raises(FramingError, match="exactly one"):
        unframe(START_BLOCK + b"a")


class Recorder:
    """An in-memory handler: parse, ACK with a fresh control id, remember what arrived."""

    def __init__(self) -> None:
        self.control_ids: list[str | None] = []
        self._counter = itertools.count(1)

    async def __call__(self, payload: bytes) -> bytes:
        text = decode_payload(payload)
        parsed = text if not isinstance(text, str) else parse_message(text)
        self.control_ids.append(parsed.control_id)
        ack = ack_for(parsed, control_id=f"ACK{next(self._counter)}", timestamp=NOW)
        return ack.encode()


def _message(control_id: str, seed: int = 0) -> bytes:
    values = sample_vitals(random.Random(seed))
    return sample_oru_r01(
        control_id=control_id, mrn="MRN1", observed_at=NOW, values=values
    ).encode()


def _msa(ack: bytes) -> tuple[str, str]:
    msa = hl7.parse(ack.decode()).segment("MSA")
    return str(msa[1]), str(msa[2])


def _run(scenario, **server_options):
    """Run ``scenario(server, recorder)`` against a fresh server on a free loopback port."""

    async def main():
        recorder = Recorder()
        server = await start_server(recorder, "127.0.0.1", 0, **server_options)
        try:
            return await asyncio.wait_for(scenario(server, recorder), HANG_GUARD_SECONDS)
        finally:
            await server.close()

    return asyncio.run(main())


def test_one_connection_with_several_messages_in_one_write_gets_each_ack_in_order():
    unmapped = _message("M2").replace(b"147842^MDC_ECG_HEART_RATE", b"999999^MDC_MADE_UP")

    async def scenario(server: MllpServer, recorder: Recorder):
        client = await MllpClient.connect("127.0.0.1", server.port)
        await client.write_raw(frame(_message("M1")) + frame(unmapped) + frame(b"not hl7"))
        acks = [await client.read_ack() for _ in range(3)]
        again = await client.send(_message("M4"))  # the connection stays open
        await client.close()
        return acks + [again], recorder.control_ids

    acks, seen = _run(scenario)
    assert [_msa(ack) for ack in acks] == [("AA", "M1"), ("AE", "M2"), ("AR", ""), ("AA", "M4")]
    assert seen == ["M1", "M2", None, "M4"]


FIRST, SECOND = _message("S1"), _message("S2", seed=1)


@pytest.mark.parametrize(
    "read_size",
    [
        7,  # every message spans dozens of reads
        len(frame(FIRST)) - 1,  # the first read ends between 0x1C and 0x0D
    ],
)
def test_messages_split_across_many_reads_are_reassembled(read_size):
    first, second = FIRST, SECOND

    async def scenario(server: MllpServer, recorder: Recorder):
        client = await MllpClient.connect("127.0.0.1", server.port)
        half = len(second) // 2
        # The first message and half of the second in one write; the rest only after the first ACK,
        # so the server must hold half a message between reads.
        await client.write_raw(frame(first) + START_BLOCK + second[:half])
        ack_first = await client.read_ack()
        await client.write_raw(second[half:] + END_BLOCK[:1])
        await client.write_raw(END_BLOCK[1:])
        ack_second = await client.read_ack()
        await client.close()
        return [ack_first, ack_second], recorder.control_ids

    acks, seen = _run(scenario, read_size=read_size)
    assert [_msa(ack) for ack in acks] == [("AA", "S1"), ("AA", "S2")]
    assert seen == ["S1", "S2"]


def test_many_connections_at_once_each_get_their_own_acks():
    connections, per_connection = 8, 5

    async def one_connection(port: int, number: int) -> list[tuple[str, str]]:
        client = await MllpClient.connect("127.0.0.1", port)
        acks = [
            _msa(await client.send(_message(f"C{number}-{index}", seed=index)))
            for index in range(per_connection)
        ]
        await client.close()
        return acks

    async def scenario(server: MllpServer, recorder: Recorder):
        results = await asyncio.gather(
            *(one_connection(server.port, number) for number in range(connections))
        )
        return results, recorder.control_ids

    results, seen = _run(scenario)
    expected = [
        [("AA", f"C{number}-{index}") for index in range(per_connection)]
        for number in range(connections)
    ]
    assert results == expected
    assert sorted(seen) == sorted(
        f"C{n}-{i}" for n in range(connections) for i in range(per_connection)
    )


def test_a_failing_handler_closes_the_connection_without_an_ack_and_the_server_carries_on():
    calls: list[bytes] = []

    async def flaky(payload: bytes) -> bytes:
        calls.append(payload)
        if len(calls) == 1:
            raise RuntimeError("database unavailable")
        return b"MSH|^~\\&|ACK"

    async def scenario(server: MllpServer, _recorder: Recorder):
        client = await MllpClient.connect("127.0.0.1", server.port)
        with pytest.raises(ConnectionError):
            await client.send(b"MSH|first")
        await client.close()
        retry = await MllpClient.connect("127.0.0.1", server.port)
        ack = await retry.send(b"MSH|first")
        await retry.close()
        return ack

    async def main():
        server = await start_server(flaky, "127.0.0.1", 0)
        try:
            return await asyncio.wait_for(scenario(server, Recorder()), HANG_GUARD_SECONDS)
        finally:
            await server.close()

    assert asyncio.run(main()) == b"MSH|^~\\&|ACK"
    assert calls == [b"MSH|first", b"MSH|first"]


def test_a_stream_that_is_not_mllp_closes_the_connection():
    async def scenario(server: MllpServer, recorder: Recorder):
        client = await MllpClient.connect("127.0.0.1", server.port)
        await client.write_raw(b"GET / HTTP/1.1\r\n\r\n")
        with pytest.raises(ConnectionError):
            await client.read_ack()
        await client.close()
        return recorder.control_ids

    assert _run(scenario) == []


def test_closing_the_server_ends_idle_persistent_connections():
    async def main():
        server = await start_server(Recorder(), "127.0.0.1", 0)
        client = await MllpClient.connect("127.0.0.1", server.port)
        ack = await asyncio.wait_for(client.send(_message("P1")), HANG_GUARD_SECONDS)
        await asyncio.wait_for(server.close(), HANG_GUARD_SECONDS)
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(client.read_ack(), HANG_GUARD_SECONDS)
        await client.close()
        return ack

    assert _msa(asyncio.run(main())) == ("AA", "P1")
