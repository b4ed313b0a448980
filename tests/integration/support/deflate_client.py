"""A permessage-deflate client of another implementation (python3-websockets), for
tests/integration/compression_test.cc: it connects to URL offering compression, prints the
extension the node agreed, subscribes to CHANNEL (its frames go compressed), and prints each
message it receives, COUNT of them, one JSON line each."""
import asyncio
import json
import sys

import websockets


async def main(url, channel, count):
    async with websockets.connect(url, compression="deflate", max_size=1 << 22) as ws:
        print("extensions:", ws.response_headers.get("Sec-WebSocket-Extensions", ""), flush=True)
        print("negotiated:", ",".join(type(e).__name__ for e in ws.extensions), flush=True)
        while json.loads(await ws.recv())["type"] != "connected":
            pass
        # Large enough that websockets compresses it whatever its threshold.
        await ws.send(json.dumps({"type": "subscribe", "id": 1, "channels": [channel],
                                  "padding": "x" * 2000}))
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("id") == 1:
                print("subscribe:", frame["type"], flush=True)
                break
        got = 0
        while got < count:
            frame = json.loads(await ws.recv())
            if frame["type"] == "message":
                print("message:", json.dumps(frame["data"], sort_keys=True, separators=(",", ":")),
                      flush=True)
                got += 1
        print("done", flush=True)


asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2], int(sys.argv[3])), 60))
