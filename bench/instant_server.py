"""An instant OpenAI-compatible chat server on 127.0.0.1 for bench/ (aiohttp, one process).

The standard-library fake server of the tests tops out near 300 requests/s on this machine,
which would make every client look the same; aiohttp's server answers several thousand.
Prints its port, serves until SIGINT or --max-seconds, then prints a JSON line with the number
of answered requests and the time of the first one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--content", default="\\boxed{7}", help="the answer every request gets")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop by itself after this long")
    args = parser.parse_args()
    state = {"answered": 0, "first": None}

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        if state["first"] is None:
            state["first"] = time.time()
        state["answered"] += 1
        return web.json_response({
            "id": f"chatcmpl-{state['answered']}", "object": "chat.completion", "created": 0, "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": args.content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
        })

    async def models(request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "bench", "object": "model"}]})

    async def serve() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        app.router.add_get("/v1/models", models)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
        try:
            await asyncio.wait_for(stop.wait(), args.max_seconds)
        except asyncio.TimeoutError:
            pass
        await runner.cleanup()
        print(json.dumps({"answered": state["answered"], "first_request_at": state["first"]}), flush=True)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
