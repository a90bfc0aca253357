"""The mock's CPU per callback delivery (kiekit_mock.callbacks.CallbackDispatcher).

A receiver in another process answers every callback at once (so its work is not counted); this
process dispatches N callbacks, each to its own task, one at a time (``serial``: each waits for
the one before, as callbacks of tasks ending apart) or 50 at once (``burst``: tasks ending
together), and reads its own CPU time (user + system) over them. Figures, not a test: run it
before and after a change to the way deliveries are sent.

    python tools/bench/mock_callback_cpu.py [N]
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

from kiekit_mock.callbacks import CallbackDispatcher

RECEIVER = """
import sys
from aiohttp import web

async def ok(request):
    await request.read()
    return web.json_response({"code": 200, "msg": "ok"})

app = web.Application()
app.router.add_post("/hook", ok)
runner = web.AppRunner(app, access_log=None)

async def main():
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(site._server.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()

import asyncio
asyncio.run(main())
"""
BURST = 50
PAYLOAD = {"code": 200, "msg": "ok", "data": {"taskId": "t", "state": "success", "resultJson": ""}}


async def _run(url: str, count: int, at_once: int) -> float:
    dispatcher = CallbackDispatcher(timeout=15, hmac_key=None)
    opened = getattr(dispatcher, "open", None)  # the shared session, where there is one
    if opened is not None:
        await opened()
    try:
        for number in range(20):  # warm up: imports, the first connection
            dispatcher.dispatch(f"warm-{number}", url, PAYLOAD)
        await dispatcher.wait_idle()
        start = time.process_time()
        for number in range(count):
            dispatcher.dispatch(f"task-{number}", url, PAYLOAD)
            if (number + 1) % at_once == 0:
                await dispatcher.wait_idle()
        await dispatcher.wait_idle()
        cpu = time.process_time() - start
    finally:
        await dispatcher.close()
    failed = [r.reason for r in dispatcher.records() if not r.delivered]
    if failed:
        raise SystemExit(f"{len(failed)} deliveries failed: {failed[0]}")
    return cpu / count


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER], stdout=subprocess.PIPE, text=True)  # noqa: S603
    try:
        assert receiver.stdout is not None
        url = f"http://127.0.0.1:{receiver.stdout.readline().strip()}/hook"
        for name, at_once in (("serial", 1), ("burst", BURST)):
            per = asyncio.run(_run(url, count, at_once))
            print(f"{name:6} {count} deliveries: {per * 1000:.3f} ms CPU per delivery")
    finally:
        receiver.kill()
        receiver.wait()


if __name__ == "__main__":
    main()
