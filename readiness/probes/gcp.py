"""Cloud Monitoring (google-cloud-monitoring): the latest value of a gauge over a window, as evidence.

Credentials come from google.auth's default chain. With an `endpoint_url` of the form http://host:port
(a local fake speaking the Monitoring gRPC API) the channel is plaintext and the credentials anonymous.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from readiness.core.expect import CheckError, now_iso


@dataclass(frozen=True)
class Gauge:
    metric: str
    #: the latest value (the largest across series, e.g. the nodes of an HA instance)
    value: float
    points: int
    evidence: dict[str, Any]


def _client(endpoint_url: str | None, timeout: float) -> Any:
    from google.cloud import monitoring_v3

    if not endpoint_url:
        return monitoring_v3.MetricServiceClient()
    import grpc
    from google.auth.credentials import AnonymousCredentials
    from google.cloud.monitoring_v3.services.metric_service.transports import MetricServiceGrpcTransport

    parts = urlsplit(endpoint_url)
    if parts.scheme == "http":
        channel = grpc.insecure_channel(parts.netloc)
        return monitoring_v3.MetricServiceClient(transport=MetricServiceGrpcTransport(channel=channel))
    return monitoring_v3.MetricServiceClient(
        credentials=AnonymousCredentials(), client_options={"api_endpoint": parts.netloc or endpoint_url}
    )


def latest_gauge(
    project: str,
    metric: str,
    resource: dict[str, str],
    *,
    endpoint_url: str | None = None,
    timeout: float = 10.0,
    window_minutes: int = 60,
) -> Gauge:
    """The latest point of `metric` for the monitored resource whose labels match `resource`."""
    from google.api_core import exceptions as google_errors
    from google.auth import exceptions as auth_errors
    from google.cloud import monitoring_v3

    end = dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(minutes=window_minutes)
    where = " AND ".join(f'resource.{k} = "{v}"' if k == "type" else f'resource.labels.{k} = "{v}"'
                         for k, v in resource.items())  # fmt: skip
    query = f'metric.type = "{metric}" AND {where}'
    try:
        client = _client(endpoint_url, timeout)
        pages = client.list_time_series(
            request={
                "name": f"projects/{project}",
                "filter": query,
                "interval": monitoring_v3.TimeInterval(start_time=start, end_time=end),
                "view": monitoring_v3.ListTimeSeriesRequest.TimeSeriesView.FULL,
            },
            timeout=timeout,
        )
        series = list(pages)
    except auth_errors.DefaultCredentialsError:
        raise CheckError("no Google credentials (GOOGLE_APPLICATION_CREDENTIALS or gcloud auth)") from None
    except google_errors.GoogleAPICallError as exc:
        raise CheckError(f"Cloud Monitoring answered {exc.code}: {exc.message} ({metric})") from None
    except google_errors.RetryError as exc:
        raise CheckError(f"Cloud Monitoring did not answer in time ({metric}): {exc}") from None
    latest: list[float] = []
    count = 0
    for ts in series:
        if ts.points:
            point = ts.points[0]  # newest first
            value = point.value
            latest.append(float(value.double_value or value.int64_value))
            count += len(ts.points)
    if not latest:
        raise CheckError(
            f"Cloud Monitoring has no {metric} points for {where} in the last {window_minutes} min: "
            "check cloud.project and the resource name"
        )
    return Gauge(
        metric=metric,
        value=max(latest),
        points=count,
        evidence={
            "cloud": "gcp",
            "service": "Cloud Monitoring",
            "project": project,
            "asked": f"ListTimeSeries {query}",
            "window": {"start": start.isoformat(timespec="seconds"), "end": end.isoformat(timespec="seconds")},
            "series": len(series),
            "points": count,
            "latest": max(latest),
            "at": now_iso(),
        },
    )
