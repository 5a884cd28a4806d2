"""A TCP proxy that adds a fixed delay before each burst of client bytes (each HTTP request), and can
answer a share of the requests with 503 itself (fault injection).

Used between the ingress and the Prefect server by the ``prefect-slow`` scenario (delay) and the
``prefect-errors`` scenario (a share of API requests answered 503; /health and /ready pass untouched):

    python -m readiness.sandbox.services.latency_proxy LISTEN_PORT TARGET_PORT DELAY_MS [ERROR_RATIO]
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys

HOST = "127.0.0.1"
_BODY = b"injected fault (sandbox)"
UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
    + b"Content-Length: %d\r\n\r\n" % len(_BODY)
    + _BODY
)
#: paths that stay answered by the server, so only the API traffic sees the fault
_SPARED = (b" /api/health ", b" /api/ready ", b" /health ", b" /ready ")


def _inject(data: bytes, error_ratio: float) -> bool:
    if error_ratio <= 0 or random.random() >= error_ratio:
        return False
    request_line = data.split(b"\r\n", 1)[0]
    return not any(p in request_line + b" " for p in _SPARED)


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    delay: float,
    error_ratio: float = 0.0,
    answer: asyncio.StreamWriter | None = None,
) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            if answer is not None and _inject(data, error_ratio):
                answer.write(UNAVAILABLE)
                await answer.drain()
                answer.close()
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


async def _serve(listen_port: int, target_port: int, delay: float, error_ratio: float) -> None:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, target_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            _pipe(client_reader, server_writer, delay, error_ratio, client_writer),
            _pipe(server_reader, client_writer, 0.0),
        )

    server = await asyncio.start_server(handle, HOST, listen_port, reuse_address=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    listen_port, target_port, delay_ms = int(args[0]), int(args[1]), float(args[2])
    error_ratio = float(args[3]) if len(args) == 4 else 0.0
    print(
        f"latency proxy {HOST}:{listen_port} -> {HOST}:{target_port}, +{delay_ms:.0f} ms, "
        f"{error_ratio:.0%} answered 503",
        flush=True,
    )
    asyncio.run(_serve(listen_port, target_port, delay_ms / 1000.0, error_ratio))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
