"""Keeping reports in an object store (S3, GCS, Azure Blob) through each cloud's own SDK and its default
credential chain, and fetching the previous run's report as the next run's baseline.

Layout under the store URL's prefix: ``<run-id>/<file>`` for every run, and ``latest/<file>`` for the most
recent one (what the next drift audit compares against). The SDKs are the `cloud` extra.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

LATEST = "latest"
CONTENT_TYPES = {
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".xml": "application/xml",
    ".prom": "text/plain; version=0.0.4",
}


class UploadError(Exception):
    """The store could not be reached or refused; the message is one line a person can act on."""


@dataclass(frozen=True)
class StoreURL:
    scheme: str  # s3 | gs | az
    bucket: str  # the bucket; for az, the container
    prefix: str  # key prefix without leading or trailing slash ("" for the bucket's root)
    account: str = ""  # az only: the storage account

    @classmethod
    def parse(cls, url: str) -> StoreURL:
        parts = urlsplit(url)
        path = parts.path.strip("/")
        if parts.scheme in ("s3", "gs") and parts.netloc:
            return cls(parts.scheme, parts.netloc, path)
        if parts.scheme == "az" and parts.netloc and path:
            container, _, prefix = path.partition("/")
            return cls("az", container, prefix, account=parts.netloc)
        raise UploadError(
            f"report store {url!r}: expected s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://ACCOUNT/CONTAINER/PREFIX"
        )

    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def __str__(self) -> str:
        where = f"{self.account}/{self.bucket}" if self.account else self.bucket
        return f"{self.scheme}://{where}/{self.prefix}".rstrip("/")


class Store(Protocol):
    def put(self, key: str, path: Path, content_type: str) -> None: ...

    def get(self, key: str) -> bytes | None: ...


class S3Store:
    """boto3's default chain (IRSA/pod identity, env, profile); AWS_ENDPOINT_URL(_S3) points it elsewhere."""

    def __init__(self, url: StoreURL) -> None:
        import boto3

        self.bucket = url.bucket
        self.client = boto3.client("s3")

    def put(self, key: str, path: Path, content_type: str) -> None:
        self.client.upload_file(str(path), self.bucket, key, ExtraArgs={"ContentType": content_type})

    def get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None


class GCSStore:
    """google-auth's default credentials (Workload Identity, GOOGLE_APPLICATION_CREDENTIALS);
    STORAGE_EMULATOR_HOST points the client at an emulator."""

    def __init__(self, url: StoreURL) -> None:
        from google.cloud import storage

        self.bucket = storage.Client().bucket(url.bucket)

    def put(self, key: str, path: Path, content_type: str) -> None:
        self.bucket.blob(key).upload_from_filename(str(path), content_type=content_type)

    def get(self, key: str) -> bytes | None:
        from google.api_core.exceptions import NotFound

        try:
            return self.bucket.blob(key).download_as_bytes()
        except NotFound:
            return None


class AzureBlobStore:
    """DefaultAzureCredential (workload identity, managed identity, env); AZURE_STORAGE_CONNECTION_STRING,
    when set, is used instead (Azurite, or an account key kept in a Secret)."""

    def __init__(self, url: StoreURL) -> None:
        from azure.storage.blob import BlobServiceClient

        connection = os.environ.get("AZURE_STORAGE_CONNECTION_STRING")
        if connection:
            service = BlobServiceClient.from_connection_string(connection)
        else:
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(f"https://{url.account}.blob.core.windows.net", DefaultAzureCredential())
        self.container = service.get_container_client(url.bucket)

    def put(self, key: str, path: Path, content_type: str) -> None:
        from azure.storage.blob import ContentSettings

        with path.open("rb") as data:
            self.container.upload_blob(key, data, overwrite=True, content_settings=ContentSettings(content_type))

    def get(self, key: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return self.container.download_blob(key).readall()
        except ResourceNotFoundError:
            return None


_STORES: dict[str, type[S3Store] | type[GCSStore] | type[AzureBlobStore]] = {
    "s3": S3Store,
    "gs": GCSStore,
    "az": AzureBlobStore,
}
_EXTRA = {"s3": "boto3", "gs": "google-cloud-storage", "az": "azure-storage-blob and azure-identity"}


def open_store(url: StoreURL) -> Store:
    try:
        return _STORES[url.scheme](url)
    except ImportError:
        raise UploadError(
            f"report store {url}: the {_EXTRA[url.scheme]} SDK is not installed; pip install 'prefect-readiness[cloud]'"
        ) from None


def _fail(url: StoreURL, action: str, exc: Exception) -> UploadError:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return UploadError(f"report store {url}: {action} failed: {type(exc).__name__}: {first_line}")


def upload_run(run_dir: Path, url: StoreURL, store: Store | None = None) -> list[str]:
    """Upload every file of a run folder under <prefix>/<run-id>/ and <prefix>/latest/; the keys written."""
    store = store or open_store(url)
    files: Iterable[Path] = sorted(p for p in run_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    keys = []
    try:
        for folder in (run_dir.name, LATEST):  # the run first: `latest` never names a half-uploaded run
            for path in files:
                key = url.key(folder, path.name)
                store.put(key, path, CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
                keys.append(key)
    except UploadError:
        raise
    except Exception as exc:  # the SDKs' own errors (credentials, denied, unreachable): one line
        raise _fail(url, "upload", exc) from None
    return keys


def fetch_latest(url: StoreURL, dest: Path, store: Store | None = None) -> Path | None:
    """The previous run's conformance.json, saved to `dest`; None when the store holds no run yet."""
    store = store or open_store(url)
    try:
        data = store.get(url.key(LATEST, "conformance.json"))
    except Exception as exc:
        raise _fail(url, "reading the previous report", exc) from None
    if data is None:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest
