"""Verdicts of the managed-service paths of the Redis and PostgreSQL suites, without a cloud.

AWS: boto3 against moto in server mode (the real wire protocol) with an ElastiCache cluster and an RDS
instance per case; their sizes are judged through the aws profile's catalogs.
GCP: google-cloud-monitoring's own gRPC client against a local MetricService (gcp_monitoring_fake) fed
Memorystore and Cloud SQL gauges.
Azure: azure-mgmt-redis and azure-mgmt-postgresqlflexibleservers against a local Resource Manager
(azure_arm_fake); SKUs judged through the azure profile's catalogs. (azure-monitor-query 2.0 ships only
the Logs clients, so SKUs come from the management API.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.report_wording import remediation_problems
from tests.suite_run import ROOT, Verdicts, run_suites
from tests.verdict.moto_server import DUMMY_AWS, REGION, aws, moto_server

pytestmark = pytest.mark.slow

PROJECT = "prefect-selfmanaged"
GCP_REGION = "us-central1"
GIB = 1024**3
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
RESOURCE_GROUP = "prefect-rg"
CLOUD_CHECKS = "recommended_memory or recommended_vcpus or suggested_capacity"


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as url:
        _create_resources(url)
        yield url


def _create_resources(url: str) -> None:
    elasticache = aws("elasticache", url)
    # a replication group (primary + replica, as Prefect's Redis usually runs) and a single-node cluster
    elasticache.create_replication_group(
        ReplicationGroupId="prefect-redis", ReplicationGroupDescription="Prefect messaging and cache",
        CacheNodeType="cache.r6g.large", Engine="redis", EngineVersion="7.1", NumCacheClusters=2,
    )  # fmt: skip
    elasticache.create_cache_cluster(
        CacheClusterId="prefect-redis-tiny", Engine="redis", EngineVersion="7.1", CacheNodeType="cache.t2.micro",
        NumCacheNodes=1,
    )  # fmt: skip
    rds = aws("rds", url)
    for name, instance_class in (("prefect-db", "db.r6g.xlarge"), ("prefect-db-small", "db.m6g.xlarge")):
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass=instance_class,
            Engine="postgres",
            EngineVersion="14.10",
            MasterUsername="prefect",
            MasterUserPassword="not-a-real-password",
            AllocatedStorage=100,
        )


def run_cloud(
    tmp_path: Path, endpoint: str, redis_id: str, postgres_id: str, *, provider: str = "aws", region: str = REGION
) -> Verdicts:
    """The Redis and PostgreSQL suites' cloud checks, with a targets file naming the managed resources."""
    cloud = {"provider": provider, "region": region, "endpoint_url": endpoint, "redis": redis_id,
             "postgres": postgres_id}  # fmt: skip
    if provider == "gcp":
        cloud["project"] = PROJECT
    if provider == "azure":
        cloud.update(subscription=SUBSCRIPTION, resource_group=RESOURCE_GROUP)
    targets = tmp_path / "targets.yaml"
    targets.write_text(yaml.safe_dump({"schema_version": 1, "cloud": cloud}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "READINESS_", "AWS_", "GOOGLE_"))}
    env.update(DUMMY_AWS)
    env.update({"PREFECT_HOME": str(tmp_path / "client-home"), "READINESS_TARGETS": str(targets),
                "KUBECONFIG": str(tmp_path / "no-kubeconfig")})  # fmt: skip
    verdicts = run_suites(
        [ROOT / "suites" / "redis", ROOT / "suites" / "postgres"],
        env=env,
        report_dir=tmp_path / "reports",
        profile=provider,
        extra=("-k", CLOUD_CHECKS),
        timeout=300,
    )
    # every warn's fix names the managed resource the run described, with no placeholder
    assert [p for r in verdicts.results.values() for p in remediation_problems(r)] == []
    return verdicts


def test_conformant_elasticache_and_rds_sizes_pass(moto, tmp_path):
    verdicts = run_cloud(tmp_path, moto, "prefect-redis", "prefect-db")
    for rid in ("REDIS-MEMORY", "REDIS-CPU", "PG-CAPACITY"):
        assert verdicts.outcome(rid) == "pass", verdicts.explain(rid)
    assert verdicts.results["REDIS-MEMORY"]["observed_value"] == pytest.approx(13.07)
    assert verdicts.results["REDIS-MEMORY"]["evidence"]["asked"].startswith("DescribeReplicationGroups")
    evidence = verdicts.results["PG-CAPACITY"]["evidence"]
    assert evidence["cloud"] == "aws"
    assert evidence["instance_class"] == "db.r6g.xlarge"
    assert evidence["asked"] == "DescribeDBInstances"


def test_too_small_elasticache_and_rds_warn(moto, tmp_path):
    verdicts = run_cloud(tmp_path, moto, "prefect-redis-tiny", "prefect-db-small")
    for rid in ("REDIS-MEMORY", "REDIS-CPU", "PG-CAPACITY"):
        assert verdicts.outcome(rid) == "warn", verdicts.explain(rid)
    assert "db.m6g.xlarge" in verdicts.results["PG-CAPACITY"]["message"]
    assert verdicts.results["PG-CAPACITY"]["observed_value"] == 16
    # The fix names the fake's own resources, with the aws profile's smallest types that meet the minimums.
    assert (
        f"aws elasticache modify-cache-cluster --cache-cluster-id prefect-redis-tiny --region {REGION} "
        "--cache-node-type cache.r6g.large --apply-immediately"
    ) in verdicts.results["REDIS-MEMORY"]["remediation"]
    assert (
        f"aws rds modify-db-instance --db-instance-identifier prefect-db-small --region {REGION} "
        "--db-instance-class db.r6g.xlarge --apply-immediately"
    ) in verdicts.results["PG-CAPACITY"]["remediation"]


def test_unknown_resource_is_an_error_naming_it(moto, tmp_path):
    verdicts = run_cloud(tmp_path, moto, "no-such-cluster", "no-such-db")
    assert verdicts.outcome("REDIS-MEMORY") == "error"
    assert "no-such-cluster" in verdicts.results["REDIS-MEMORY"]["message"]
    assert verdicts.outcome("PG-CAPACITY") == "error"
    assert "DBInstanceNotFound" in verdicts.results["PG-CAPACITY"]["message"]


# -- GCP: Memorystore and Cloud SQL through Cloud Monitoring ------------------------------------------
@pytest.fixture(scope="module")
def cloud_monitoring() -> Iterator[str]:
    from tests.verdict.gcp_monitoring_fake import FakeMonitoring, serve

    fake = FakeMonitoring()
    for name, maxmemory in (("prefect-redis", 13.5 * GIB), ("prefect-redis-small", 5 * GIB)):
        instance = f"projects/{PROJECT}/locations/{GCP_REGION}/instances/{name}"
        for node in ("node-0", "node-1"):  # STANDARD_HA: a primary and a replica
            labels = {"instance_id": instance, "node_id": node, "region": GCP_REGION}
            fake.gauge("redis.googleapis.com/stats/memory/maxmemory", "redis_instance", labels, maxmemory, integer=True)
    for name, cores, memory in (("prefect-db", 4.0, 32 * GIB), ("prefect-db-small", 2.0, 8 * GIB)):
        labels = {"database_id": f"{PROJECT}:{name}", "region": GCP_REGION}
        fake.gauge("cloudsql.googleapis.com/database/cpu/reserved_cores", "cloudsql_database", labels, cores,
                   integer=False)  # fmt: skip
        fake.gauge("cloudsql.googleapis.com/database/memory/quota", "cloudsql_database", labels, memory, integer=True)
    with serve(fake) as url:
        yield url


def test_conformant_memorystore_and_cloud_sql_pass(cloud_monitoring, tmp_path):
    verdicts = run_cloud(tmp_path, cloud_monitoring, "prefect-redis", "prefect-db", provider="gcp", region=GCP_REGION)
    for rid in ("REDIS-MEMORY", "PG-CAPACITY"):
        assert verdicts.outcome(rid) == "pass", verdicts.explain(rid)
    assert verdicts.results["REDIS-MEMORY"]["observed_value"] == 13.5
    assert verdicts.outcome("REDIS-CPU") == "skip"
    assert "does not publish the vCPUs" in verdicts.results["REDIS-CPU"]["message"]
    evidence = verdicts.results["PG-CAPACITY"]["evidence"]
    assert evidence["cloud"] == "gcp"
    assert evidence["window"]["start"] < evidence["window"]["end"]
    assert "reserved_cores" in evidence["reserved_cores"]["asked"]


def test_too_small_memorystore_and_cloud_sql_warn(cloud_monitoring, tmp_path):
    verdicts = run_cloud(
        tmp_path, cloud_monitoring, "prefect-redis-small", "prefect-db-small", provider="gcp", region=GCP_REGION
    )
    for rid in ("REDIS-MEMORY", "PG-CAPACITY"):
        assert verdicts.outcome(rid) == "warn", verdicts.explain(rid)
    assert verdicts.results["PG-CAPACITY"]["observed_value"] == 2.0  # the first unmet: 2 reserved cores
    assert (
        f"gcloud redis instances update prefect-redis-small --region {GCP_REGION} --project {PROJECT} --size 13"
        in verdicts.results["REDIS-MEMORY"]["remediation"]
    )
    assert (
        f"gcloud sql instances patch prefect-db-small --project {PROJECT} --cpu 4 --memory 32GB"
        in verdicts.results["PG-CAPACITY"]["remediation"]
    )


# -- Azure: Azure Cache for Redis and PostgreSQL flexible server through Resource Manager --------------
@pytest.fixture(scope="module")
def resource_manager() -> Iterator[str]:
    from tests.verdict.azure_arm_fake import FakeArm, serve

    fake = FakeArm(SUBSCRIPTION, RESOURCE_GROUP)
    fake.redis("prefect-redis", "Premium", "P", 2)
    fake.redis("prefect-redis-small", "Standard", "C", 2)
    fake.postgres("prefect-db", "Standard_E4ds_v5", "MemoryOptimized")
    fake.postgres("prefect-db-small", "Standard_D4ds_v5", "GeneralPurpose")
    with serve(fake) as url:
        yield url


def test_conformant_azure_cache_and_flexible_server_pass(resource_manager, tmp_path):
    verdicts = run_cloud(tmp_path, resource_manager, "prefect-redis", "prefect-db", provider="azure", region="eastus")
    for rid in ("REDIS-MEMORY", "REDIS-CPU", "PG-CAPACITY"):
        assert verdicts.outcome(rid) == "pass", verdicts.explain(rid)
    assert verdicts.results["REDIS-MEMORY"]["evidence"]["sku"] == "Premium_P2"
    assert verdicts.results["PG-CAPACITY"]["evidence"]["tier"] == "MemoryOptimized"


def test_too_small_azure_cache_and_flexible_server_warn(resource_manager, tmp_path):
    verdicts = run_cloud(
        tmp_path, resource_manager, "prefect-redis-small", "prefect-db-small", provider="azure", region="eastus"
    )
    for rid in ("REDIS-MEMORY", "PG-CAPACITY"):
        assert verdicts.outcome(rid) == "warn", verdicts.explain(rid)
    assert verdicts.outcome("REDIS-CPU") == "pass"  # Standard C2 has the two vCPUs, not the memory
    assert verdicts.results["PG-CAPACITY"]["observed_value"] == 16
    group = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers"
    assert (
        f"az redis update --ids {group}/Microsoft.Cache/Redis/prefect-redis-small --sku Premium --vm-size p2"
        in verdicts.results["REDIS-MEMORY"]["remediation"]
    )
    assert (
        f"az postgres flexible-server update --ids {group}/Microsoft.DBforPostgreSQL/flexibleServers/"
        "prefect-db-small --tier MemoryOptimized --sku-name Standard_E4ds_v5"
        in verdicts.results["PG-CAPACITY"]["remediation"]
    )
