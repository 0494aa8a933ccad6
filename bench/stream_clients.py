"""Benchmark client process: N WebSockets, records publish→receive latency of every frame.

Usage: python -m bench.stream_clients URL N SECONDS [subscribe-topic] [deflate]
("deflate": offer permessage-deflate, as browsers do)
Prints one JSON line: {"connected", "latencies_ms": [...], "received": [...per client]}.
"""

import asyncio
import json
import resource
import sys
import time

import aiohttp


async def client(session, url, topic, latencies, counts, index, ready, stop, compress):
    origin = "http://" + url.split("//", 1)[1].split("/", 1)[0]  # as a browser on that page would send
    headers = {"Origin": origin}
    async with session.ws_connect(url, max_msg_size=0, autoping=True, headers=headers, compress=compress) as ws:
        if topic:
            await ws.send_str(json.dumps({"type": "subscribe", "topics": [topic]}))
        ready.set_result(True) if not ready.done() else None
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.time()
            data = json.loads(message.data)
            sent = data.get("sent_at")
            if sent is None or data.get("replayed"):  # the latest value sent on subscribe is not a tick
                continue
            latencies.append((now - sent) * 1000)
            counts[index] += 1
            if stop.is_set():
                break


async def main(url: str, n: int, seconds: float, topic: str | None, compress: int = 0) -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    latencies: list[float] = []
    counts = [0] * n
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        readies = []
        tasks = []
        for i in range(n):
            ready = asyncio.get_running_loop().create_future()
            readies.append(ready)
            tasks.append(asyncio.create_task(client(session, url, topic, latencies, counts, i, ready, stop, compress)))
            if i % 20 == 19:  # ~100 connections a second, as users arrive, not a thundering herd
                await asyncio.sleep(0.2)
        await asyncio.wait_for(asyncio.gather(*readies), timeout=120)
        await asyncio.sleep(1.0)  # let the last subscriptions land
        print("READY", flush=True)
        await asyncio.sleep(seconds + 3)
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"connected": n, "latencies_ms": latencies, "received": counts}), flush=True)


if __name__ == "__main__":
    topic = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
    deflate = 15 if len(sys.argv) > 5 and sys.argv[5] == "deflate" else 0
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), topic, deflate))
