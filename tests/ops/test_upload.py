"""Reports kept in S3 (moto's server speaks S3's wire protocol to boto3): every file of a run under
<prefix>/<run-id>/ and <prefix>/latest/, the previous report fetched back as the next baseline, and a
store that cannot be reached or is not configured said in one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from readiness.core.cache import CACHE_ROOT
from readiness.report.upload import StoreURL, UploadError, fetch_latest, upload_run
from tests.go_tools import go_tool

BUCKET = "audit-reports"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(s3_endpoint, monkeypatch):
    """boto3 pointed at moto through the SDK's own settings (no code path of ours knows it is moto)."""
    for key, value in {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3")
    client.create_bucket(Bucket=BUCKET)
    yield client
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=BUCKET)


def _run_dir(root, run_id: str, verdict: str):
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "conformance.json").write_text(json.dumps({"run": {"id": run_id}, "verdict": verdict}))
    for name in ("conformance.html", "conformance.md", "junit.xml", "conformance.prom"):
        (run_dir / name).write_text(name)
    return run_dir


def test_a_run_lands_under_its_id_and_latest_and_comes_back_as_the_baseline(s3, tmp_path):
    url = StoreURL.parse(f"s3://{BUCKET}/prod/prefect")
    assert fetch_latest(url, tmp_path / "baseline.json") is None  # first run: nothing to compare with

    upload_run(_run_dir(tmp_path, "run-1", "pass"), url)
    upload_run(_run_dir(tmp_path, "run-2", "fail"), url)

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    files = {"conformance.json", "conformance.html", "conformance.md", "junit.xml", "conformance.prom"}
    assert keys == {f"prod/prefect/{folder}/{name}" for folder in ("run-1", "run-2", "latest") for name in files}
    head = s3.head_object(Bucket=BUCKET, Key="prod/prefect/latest/conformance.html")
    assert head["ContentType"].startswith("text/html")

    baseline = fetch_latest(url, tmp_path / "baseline" / "conformance.json")
    assert baseline is not None and json.loads(baseline.read_text())["run"]["id"] == "run-2"


def test_a_missing_bucket_is_one_line_naming_the_store(s3, tmp_path):
    url = StoreURL.parse("s3://no-such-bucket/x")
    with pytest.raises(UploadError) as caught:
        upload_run(_run_dir(tmp_path, "run-1", "pass"), url)
    message = str(caught.value)
    assert message.startswith("report store s3://no-such-bucket/x: upload failed:") and "\n" not in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("s3://bucket/a/b/", StoreURL("s3", "bucket", "a/b")),
        ("gs://bucket", StoreURL("gs", "bucket", "")),
        ("az://account/container/reports", StoreURL("az", "container", "reports", account="account")),
    ],
)
def test_store_urls(url, expected):
    assert StoreURL.parse(url) == expected
    assert expected.key("latest", "junit.xml") == "/".join(p for p in (expected.prefix, "latest", "junit.xml") if p)


@pytest.mark.parametrize("url", ["https://bucket/x", "az://account", "s3:///x"])
def test_a_malformed_store_url_says_what_is_expected(url):
    with pytest.raises(UploadError, match="expected s3://BUCKET/PREFIX"):
        StoreURL.parse(url)


# -- Azure Blob: Azurite (Microsoft's Azure Storage emulator, from npm) speaks the Blob REST protocol ------
# tools/bootstrap.sh installs it once (with a retry) into the cache, keyed by version; tox runs bootstrap first.
AZURITE_VERSION = "3.37.0"
AZURITE_DIR = CACHE_ROOT / "npm" / f"azurite-{AZURITE_VERSION}"
# Azurite's documented development account (a public, fixed key; not a secret of anyone's)
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _azurite_binary() -> Path:
    binary = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        pytest.fail(f"Azurite {AZURITE_VERSION} is not installed at {AZURITE_DIR}: run `bash tools/bootstrap.sh`")
    return binary


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    port = _free_port()
    data = tmp_path_factory.mktemp("azurite")
    process = subprocess.Popen(
        [str(_azurite_binary()), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(data),
         "--silent", "--skipApiVersionCheck", "--loose"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"Azurite did not listen on 127.0.0.1:{port}")
            time.sleep(0.2)
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{DEV_ACCOUNT};"
        )
    finally:  # Azurite waits for idle keep-alive connections on SIGTERM: its own process group, killed
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.mark.slow
def test_azure_blob_keeps_each_run_and_gives_back_the_latest(azurite, tmp_path, monkeypatch):
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    container = BlobServiceClient.from_connection_string(azurite).create_container("reports")
    url = StoreURL.parse(f"az://{DEV_ACCOUNT}/reports/prod")
    assert fetch_latest(url, tmp_path / "baseline.json") is None

    upload_run(_run_dir(tmp_path, "run-1", "pass"), url)
    upload_run(_run_dir(tmp_path, "run-2", "fail"), url)

    names = {blob.name for blob in container.list_blobs()}
    assert {"prod/run-1/junit.xml", "prod/run-2/conformance.prom", "prod/latest/conformance.html"} <= names
    props = container.get_blob_client("prod/latest/conformance.json").get_blob_properties()
    assert props.content_settings.content_type == "application/json"
    baseline = fetch_latest(url, tmp_path / "b" / "conformance.json")
    assert baseline is not None and json.loads(baseline.read_text())["run"]["id"] == "run-2"

    missing = StoreURL.parse(f"az://{DEV_ACCOUNT}/no-such-container/x")
    with pytest.raises(UploadError, match=r"^report store az://devstoreaccount1/no-such-container/x: upload failed"):
        upload_run(_run_dir(tmp_path / "again", "run-3", "pass"), missing)


# -- Cloud Storage: fake-gcs-server (a Go program speaking GCS's JSON API; tools/go-tools.sh builds it), reached
# through the client's own emulator setting, STORAGE_EMULATOR_HOST ---------------------------------------------
@pytest.fixture
def gcs(tmp_path) -> Iterator[str]:
    """fake-gcs-server over HTTP on loopback with one bucket, `audits`, kept in memory."""
    port = _free_port()
    data = tmp_path / "gcs-data"
    (data / "audits").mkdir(parents=True)
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(go_tool("fake-gcs-server")), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
         "-backend", "memory", "-data", str(data), "-external-url", url, "-log-level", "error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"fake-gcs-server did not listen on 127.0.0.1:{port}")
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)


def _gcs_objects(url: str, bucket: str) -> dict[str, str]:
    """name -> contentType of every object in `bucket`, as the JSON API lists them."""
    import httpx

    items = httpx.get(f"{url}/storage/v1/b/{bucket}/o", timeout=10).json().get("items", [])
    return {item["name"]: item.get("contentType", "") for item in items}


def test_gcs_keeps_each_run_and_gives_back_the_latest(tmp_path, monkeypatch, gcs):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "example-project")
    url = StoreURL.parse("gs://audits/prefect")
    assert fetch_latest(url, tmp_path / "baseline.json") is None
    upload_run(_run_dir(tmp_path, "run-1", "pass"), url)
    upload_run(_run_dir(tmp_path, "run-2", "fail"), url)
    objects = _gcs_objects(gcs, "audits")
    assert {"prefect/run-1/junit.xml", "prefect/latest/conformance.prom"} <= set(objects)
    assert objects["prefect/latest/conformance.html"].startswith("text/html")
    baseline = fetch_latest(url, tmp_path / "b" / "conformance.json")
    assert baseline is not None and json.loads(baseline.read_text())["run"]["id"] == "run-2"
    with pytest.raises(UploadError, match=r"^report store gs://elsewhere/x: upload failed: NotFound"):
        upload_run(_run_dir(tmp_path / "again", "run-3", "pass"), StoreURL.parse("gs://elsewhere/x"))
