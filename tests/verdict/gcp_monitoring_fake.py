"""A small Cloud Monitoring: the real google.monitoring.v3.MetricService gRPC API (ListTimeSeries), served
from the client library's own message types, with gauges fed as realistic one-minute time series."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager

import grpc
from google.api import metric_pb2, monitored_resource_pb2  # noqa: F401 - registers the types
from google.cloud import monitoring_v3

_METRIC = re.compile(r'metric\.type\s*=\s*"([^"]+)"')
_LABEL = re.compile(r'resource\.labels\.(\w+)\s*=\s*"([^"]+)"')
_TYPE = re.compile(r'resource\.type\s*=\s*"([^"]+)"')


class FakeMonitoring:
    """Gauges by metric type, resource type and labels; each answers a point a minute over the window."""

    def __init__(self) -> None:
        self.gauges: list[tuple[str, str, dict[str, str], float, bool]] = []
        self.requests: list[monitoring_v3.ListTimeSeriesRequest] = []

    def gauge(self, metric: str, resource_type: str, labels: dict[str, str], value: float, *, integer: bool) -> None:
        self.gauges.append((metric, resource_type, labels, value, integer))

    def list_time_series(self, request: monitoring_v3.ListTimeSeriesRequest, context: grpc.ServicerContext):
        self.requests.append(request)
        wanted_metric = _METRIC.search(request.filter)
        wanted_type = _TYPE.search(request.filter)
        wanted_labels = dict(_LABEL.findall(request.filter))
        end = request.interval.end_time or dt.datetime.now(dt.UTC)
        start = request.interval.start_time or end - dt.timedelta(hours=1)
        out = []
        for metric, resource_type, labels, value, integer in self.gauges:
            if wanted_metric and wanted_metric.group(1) != metric:
                continue
            if wanted_type and wanted_type.group(1) != resource_type:
                continue
            if any(labels.get(k) != v for k, v in wanted_labels.items()):
                continue
            points = []
            at = end.replace(second=0, microsecond=0)
            while at > start and len(points) < 60:  # one point a minute, newest first
                typed = {"int64_value": int(value)} if integer else {"double_value": value}
                points.append(monitoring_v3.Point(interval={"end_time": at}, value=typed))
                at -= dt.timedelta(minutes=1)
            out.append(
                monitoring_v3.TimeSeries(
                    metric={"type": metric},
                    resource={"type": resource_type, "labels": labels},
                    metric_kind="GAUGE",
                    value_type="INT64" if integer else "DOUBLE",
                    points=points,
                )
            )
        return monitoring_v3.ListTimeSeriesResponse(time_series=out)


@contextmanager
def serve(fake: FakeMonitoring) -> Iterator[str]:
    """Serves `fake` on a loopback port; yields its endpoint URL (http://127.0.0.1:PORT)."""
    handler = grpc.method_handlers_generic_handler(
        "google.monitoring.v3.MetricService",
        {
            "ListTimeSeries": grpc.unary_unary_rpc_method_handler(
                fake.list_time_series,
                request_deserializer=monitoring_v3.ListTimeSeriesRequest.deserialize,
                response_serializer=monitoring_v3.ListTimeSeriesResponse.serialize,
            )
        },
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop(grace=None)
