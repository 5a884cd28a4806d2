"""A tiny stand-in for Cloud Storage's JSON API (no GCS emulator ships in a registry reachable here): the
multipart upload and media download the google-cloud-storage client uses for small objects, reached
through the client's own STORAGE_EMULATOR_HOST setting. Objects live in memory, per bucket."""

from __future__ import annotations

import json
import threading
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


class FakeGCS:
    def __init__(self, buckets: set[str]) -> None:
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.buckets = buckets
        store = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _reply(self, status: int, body: dict | bytes, content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _missing(self, what: str) -> None:
                self._reply(404, {"error": {"code": 404, "message": f"{what} not found"}})

            def do_POST(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                parts = url.path.split("/")  # /upload/storage/v1/b/{bucket}/o
                bucket = unquote(parts[5])
                if bucket not in store.buckets:
                    return self._missing(f"bucket {bucket}")
                assert parse_qs(url.query)["uploadType"] == ["multipart"]
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                header = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                message = BytesParser(policy=HTTP).parsebytes(header + raw)
                metadata_part, media_part = list(message.iter_parts())
                metadata = json.loads(metadata_part.get_payload(decode=True))
                media = media_part.get_payload(decode=True)
                content_type = metadata.get("contentType") or media_part.get_content_type()
                store.objects[(bucket, metadata["name"])] = (media, content_type)
                self._reply(200, {"bucket": bucket, "name": metadata["name"], "size": str(len(media)),
                                  "contentType": content_type})  # fmt: skip

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                parts = url.path.split("/")  # /download/storage/v1/b/{bucket}/o/{name}
                bucket, name = unquote(parts[5]), unquote("/".join(parts[7:]))
                found = store.objects.get((bucket, name))
                if found is None:
                    return self._missing(f"object {name}")
                self._reply(200, found[0], found[1])

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGCS:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
