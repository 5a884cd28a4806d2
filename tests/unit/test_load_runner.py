"""The load runner's statistics and the fault proxy's error injection, without a server."""

from __future__ import annotations

from load.runner import LoadShape, read_statistics
from readiness.sandbox.services import latency_proxy


def _entry(name: str, times: dict[int, int], failures: int = 0) -> dict:
    return {"name": name, "method": "POST", "class": name.split(" ", 1)[0], "requests": sum(times.values()),
            "failures": failures, "response_times": {str(k): v for k, v in times.items()}}  # fmt: skip


def test_percentiles_per_class_come_from_the_merged_histograms():
    data = {
        "entries": [
            _entry("read POST /flows/filter", {100: 90, 900: 10}),
            _entry("read POST /flow_runs/count", {200: 100}),
            _entry("write POST /flow_runs/", {300: 49, 2000: 1}, failures=5),
        ]
    }
    endpoints, classes, total = read_statistics(data, seconds=10)
    assert [e.name for e in endpoints][0] == "read POST /flow_runs/count"
    assert classes["read"].requests == 200 and classes["read"].p50_ms == 200 and classes["read"].p99_ms == 900
    assert classes["write"].p99_ms == 2000 and classes["write"].failures == 5
    assert "poll" not in classes
    assert total.requests == 250 and total.rps == 25.0


def test_shape_comes_from_the_profile_and_the_worker_option_wins():
    params = {"shape": {"users": 6, "spawn_rate": 3, "duration_s": 15, "workers": 1}, "weights": {"ui": 2}}
    assert LoadShape.from_params(params).workers == 1
    shape = LoadShape.from_params(params, workers=3)
    assert (shape.users, shape.workers, shape.weights) == (6, 3, {"ui": 2})


def test_fault_proxy_answers_api_requests_503_and_spares_health():
    assert latency_proxy._inject(b"POST /api/flow_runs/ HTTP/1.1\r\nHost: x\r\n\r\n", 1.0)
    assert not latency_proxy._inject(b"GET /api/health HTTP/1.1\r\n\r\n", 1.0)
    assert not latency_proxy._inject(b"GET /api/ready HTTP/1.1\r\n\r\n", 1.0)
    assert not latency_proxy._inject(b"POST /api/flow_runs/ HTTP/1.1\r\n\r\n", 0.0)


def test_fault_proxy_answer_is_a_complete_503():
    head, _, body = latency_proxy.UNAVAILABLE.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503") and f"Content-Length: {len(body)}".encode() in head


def test_in_cluster_manifests_pair_the_master_and_its_workers():
    import yaml

    from tests.suite_run import ROOT

    docs = {
        d["kind"] + "/" + d["metadata"]["name"]: d
        for d in yaml.safe_load_all((ROOT / "deploy/load/locust.yaml").read_text())
    }
    master = docs["Deployment/locust-master"]["spec"]["template"]["spec"]["containers"][0]
    worker = docs["Deployment/locust-worker"]["spec"]["template"]["spec"]["containers"][0]
    service = docs["Service/locust-master"]
    expected_workers = int(master["command"][master["command"].index("--expect-workers") + 1])
    assert docs["Deployment/locust-worker"]["spec"]["replicas"] == expected_workers
    assert service["metadata"]["name"] in worker["command"]
    assert service["spec"]["selector"] == docs["Deployment/locust-master"]["spec"]["template"]["metadata"]["labels"]
    assert all(c["command"][2] == "/app/load/locustfile.py" for c in (master, worker))
    assert {e["name"] for e in worker["env"]} == {"READINESS_LOAD_CONFIG", "READINESS_LOAD_AUTHORIZATION"}
