"""A TCP proxy that adds a fixed delay before each burst of client bytes (each HTTP request).

Used by the ``prefect-slow`` scenario between the ingress and the Prefect server:

    python -m readiness.sandbox.services.latency_proxy LISTEN_PORT TARGET_PORT DELAY_MS
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

HOST = "127.0.0.1"


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if delay:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def _serve(listen_port: int, target_port: int, delay: float) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, server_writer, delay),
            _pipe(server_reader, client_writer, 0.0),
        )

    server = await asyncio.start_server(handle, HOST, listen_port, reuse_address=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    listen_port, target_port, delay_ms = int(args[0]), int(args[1]), float(args[2])
    print(f"latency proxy {HOST}:{listen_port} -> {HOST}:{target_port}, +{delay_ms:.0f} ms", flush=True)
    asyncio.run(_serve(listen_port, target_port, delay_ms / 1000.0))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
