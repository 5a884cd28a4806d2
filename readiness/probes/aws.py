"""boto3 clients with bounded timeouts, and AWS errors translated into causes a person can act on."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from readiness.core.expect import CheckError


def aws_client(service: str, *, region: str | None, endpoint_url: str | None = None, timeout: float = 10.0) -> Any:
    """A boto3 client from the default credential chain; `endpoint_url` points it at a local fake (moto)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1, "mode": "standard"})
    session = boto3.session.Session()
    region = region or session.region_name
    if not region:
        raise CheckError("no AWS region: set cloud.region in the targets file (or AWS_REGION)")
    return session.client(service, region_name=region, endpoint_url=endpoint_url, config=config)


@contextmanager
def translated_aws(what: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        yield
    except NoCredentialsError:
        raise CheckError(f"{what}: no AWS credentials found (AWS_PROFILE, AWS_ACCESS_KEY_ID, instance role)") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise CheckError(f"{what}: AWS answered {error.get('Code')}: {error.get('Message')}") from None
    except BotoCoreError as exc:
        raise CheckError(f"{what}: {exc}") from None
