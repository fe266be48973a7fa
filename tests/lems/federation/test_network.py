"""The Nlets network link (``lems.federation.network.Network``) on a real 3-server NATS JetStream
cluster: while the stream can take nothing (no leader), a message also goes directly to the
receiving node on core NATS, and the stream's copy follows once the stream is back, to be
acknowledged then; while the stream takes messages, there is no second copy."""

from __future__ import annotations

import asyncio

from federation_support import until

from lems.federation.cluster import NatsCluster
from lems.federation.network import Network


async def test_a_message_the_stream_cannot_take_reaches_the_node_directly_then_from_the_stream(
    tmp_path, reactor
) -> None:
    cluster = NatsCluster(tmp_path / "nats").start()
    got: list[tuple[bytes, str]] = []

    async def take(payload: bytes, msg_id: str) -> None:
        got.append((payload, msg_id))

    async def ignore(payload: bytes, msg_id: str) -> None:
        raise AssertionError(f"nothing is sent to OR: {msg_id}")

    oregon = Network(cluster.url, "OR", ignore, stream="H1")
    washington = Network(cluster.url, "WA", take, stream="H1")
    sending: asyncio.Task[bool] | None = None
    try:
        await oregon.start()
        await washington.start()
        # the stream takes it: one copy, from the stream, acknowledged
        assert await oregon.publish("WA", b"first", "OR-e-1-WA") is False
        await until(lambda: got == [(b"first", "OR-e-1-WA")], what="the stream's copy")
        assert oregon.hedged == 0
        # two of the three servers gone: the replicated stream has no leader, takes nothing
        cluster.kill(0)
        cluster.kill(1)
        sending = asyncio.ensure_future(oregon.publish("WA", b"second", "OR-e-2-WA"))
        await until(lambda: len(got) == 2, timeout=30, what="the direct copy")
        assert got[1] == (b"second", "OR-e-2-WA") and oregon.hedged == 1
        assert not sending.done()  # still retried: the stream does not hold it yet
        cluster.restart(0)
        cluster.restart(1)
        # stored (True: an attempt whose acknowledgement was lost had got it in already)
        await asyncio.wait_for(sending, 60)
        # the stream's copy comes too (the node drops it by its id) and is acknowledged
        await until(lambda: len(got) == 3, timeout=60, what="the stream's copy after")
        assert got[2] == (b"second", "OR-e-2-WA") and oregon.hedged == 1

        async def settled() -> int:
            info = await washington.js.consumer_info("H1", "node-WA", timeout=2)
            return int(info.num_pending) + int(info.num_ack_pending)

        deadline = asyncio.get_running_loop().time() + 30
        while await settled() != 0:
            assert asyncio.get_running_loop().time() < deadline, "never acknowledged"
            await asyncio.sleep(0.1)
    finally:
        if sending is not None and not sending.done():
            sending.cancel()
        await oregon.stop()
        await washington.stop()
        cluster.stop()
