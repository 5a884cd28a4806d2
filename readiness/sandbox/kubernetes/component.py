"""The Kubernetes half of the sandbox: a real control plane on loopback with kwok-simulated nodes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the real release binaries
(tools/k8s/build.sh); kwok plays the kubelets. The cluster content is the YAML under
readiness/sandbox/manifests/kubernetes/, applied with server-side apply through the `kubernetes` client.
"""

from __future__ import annotations

import base64
import json
import shutil
import ssl
import sys
import threading
import time
import urllib.request
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import yaml

from readiness.sandbox.base import (
    Component,
    ComponentStatus,
    SandboxContext,
    SandboxError,
    port_is_open,
    wait_until,
)
from readiness.sandbox.kubernetes import binaries, gateway_api, layout, manifests
from readiness.sandbox.kubernetes.kube import Kube, Obj, Ref, parallel, wait_for
from readiness.sandbox.kubernetes.manifests import NodePool, NodeShape
from readiness.sandbox.kubernetes.pki import Pki, ensure_pki

#: process name in the sandbox -> binary role, in start order
PROCESSES = ("k8s-etcd", "k8s-apiserver", "k8s-controller-manager", "k8s-scheduler", "k8s-kwok")
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.128.0.1/12"
NODE_GROUP_SELECTOR = "eks.amazonaws.com/nodegroup=prefect-pool"
#: kwok renews each node lease every duration/4: 600 s keeps 5,000 nodes at ~33 writes/s
NODE_LEASE_SECONDS = 600
#: scheduler profile for the bulk pods of scale runs (see scale.yaml)
BULK_SCHEDULER = "sandbox-bulk-scheduler"
SANDBOX_NAMESPACES = ("ingress-nginx", "istio-system", "prefect", "kube-system")


def _log(message: str) -> None:
    print(f"sandbox: kubernetes: {message}", file=sys.stderr, flush=True)


class KubernetesComponent(Component):
    name = "kubernetes"
    scenarios = {name: s.description for name, s in manifests.scenarios().items()}

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self._bins: binaries.Binaries | None = None
        self._kube: Kube | None = None
        self.workdir = ctx.data_dir("kubernetes")
        self.pki_dir = ctx.root / "secrets" / "kubernetes"
        self.kubeconfig = ctx.root / "kubeconfig"
        manifests.set_values(self._manifest_values())
        manifests.set_layout(self.layout())

    # -- configuration ---------------------------------------------------------------------------
    @property
    def api_port(self) -> int:
        return self.ctx.port("k8s-apiserver")

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    def layout(self) -> str:
        """How the Prefect objects are laid out: `default`, or `helm` (as the prefect-helm charts render them)."""
        return layout.known(self.ctx.get("layout"))  # type: ignore[arg-type]

    def node_count(self) -> int:
        return int(self.ctx.get("nodes") or NodePool.load().count)  # type: ignore[arg-type]

    def pod_count(self) -> int:
        return int(self.ctx.get("pods") or 0)  # type: ignore[arg-type]

    def _pki(self) -> Pki:
        return ensure_pki(self.pki_dir, self.ctx.secret)

    def _write_kubeconfig(self, path: Path, pki: Pki, identity: str, embed_ca: bool) -> None:
        cluster: dict[str, Any] = {"server": self.server}
        if embed_ca:
            cluster["certificate-authority-data"] = base64.b64encode(pki.ca_cert.read_bytes()).decode()
        else:
            cluster["certificate-authority"] = str(pki.ca_cert)
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "readiness-sandbox", "cluster": cluster}],
            "users": [{"name": identity, "user": {"token": pki.token(identity)}}],
            "contexts": [
                {
                    "name": "readiness-sandbox",
                    "context": {"cluster": "readiness-sandbox", "user": identity, "namespace": "default"},
                }
            ],
            "current-context": "readiness-sandbox",
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(config, sort_keys=False))
        tmp.chmod(0o600)
        tmp.replace(path)

    # -- lifecycle -------------------------------------------------------------------------------
    def prepare(self) -> None:
        self._bins = binaries.ensure()

    def _manifest_values(self) -> dict[str, str]:
        """Where the service half listens (ports are chosen once per state folder, before it starts)."""
        from readiness.sandbox.services import common

        return {
            "CHART_VERSION": layout.CHART_VERSION,
            "WORK_POOL": common.PREFECT_WORK_POOL,  # the pool the real worker polls (the worker chart's workPool)
            "POSTGRES_HOST": common.POSTGRES_HOST,
            "POSTGRES_PORT": str(self.ctx.port("postgres")),
            "REDIS_HOST": common.REDIS_HOST,
            "REDIS_TLS_PORT": str(self.ctx.port("redis-tls")),
            "APP_HOST": common.APP_HOST,
            "API_HOST": common.API_HOST,
            "INGRESS_HTTPS_PORT": str(self.ctx.port("ingress-https")),
            "OIDC_PORT": str(self.ctx.port("oidc")),  # the RequestAuthentication names the sandbox IdP
        }

    def up(self) -> None:
        bins = self._bins or binaries.ensure()
        self._bins = bins
        started = time.monotonic()
        pki = self._pki()
        self._write_kubeconfig(self.kubeconfig, pki, "admin", embed_ca=True)
        for identity in ("kube-controller-manager", "kube-scheduler", "kwok"):
            self._write_kubeconfig(self.pki_dir / f"{identity}.kubeconfig", pki, identity, embed_ca=False)
        self._start_etcd(bins)
        self._start_apiserver(bins, pki)
        self._start_controllers(bins, pki)
        _log(f"control plane answering at {self.server} after {time.monotonic() - started:.1f} s")
        kube = self.kube()
        self._apply_base(kube, bins)
        _log(f"manifests applied after {time.monotonic() - started:.1f} s")
        for scenario in self.ctx.active_scenarios():
            if scenario in self.scenarios:
                self.apply(scenario)
        self._wait_ready(kube)
        _log(f"cluster ready after {time.monotonic() - started:.1f} s")

    def down(self) -> None:
        if self._kube is not None:
            self._kube.close()
            self._kube = None
        ports = [self.ctx.port(n) for n in ("k8s-etcd", "k8s-etcd-peer", "k8s-apiserver")]
        ports += [self.ctx.port(n) for n in ("k8s-controller-manager", "k8s-scheduler", "k8s-kwok")]
        for name in reversed(PROCESSES):
            self.ctx.stop(name)
        for port in ports:
            wait_until(lambda p=port: not port_is_open(p), 15, f"port {port} to close")
        # A sandbox cluster starts empty each time: drop etcd's data, keep the key material.
        shutil.rmtree(self.workdir / "etcd", ignore_errors=True)
        self.kubeconfig.unlink(missing_ok=True)

    def status(self) -> ComponentStatus:
        processes = [self.ctx.process_status(name) for name in PROCESSES]
        running = all(p.running for p in processes)
        healthy = running and self._api_ready()
        if healthy:
            detail = f"Kubernetes {binaries.k8s_version()} at {self.server}, KUBECONFIG={self.kubeconfig}"
        elif not any(p.running for p in processes):
            detail = "not running"
        else:
            dead = [p.name for p in processes if not p.running]
            detail = f"not running: {', '.join(dead)}" if dead else "API server not ready"
        return ComponentStatus(self.name, healthy, detail, processes)

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig)}

    def targets(self) -> dict[str, object]:
        return {"kubernetes": {"kubeconfig": str(self.kubeconfig), "namespace": "prefect"}}

    # -- processes -------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str]) -> None:
        if not self.ctx.is_running(name):
            # Fewer garbage collections for more memory: CPU is what the 2-core machines lack.
            self.ctx.spawn(name, argv, env={"GOGC": "200"})

    def _start_etcd(self, bins: binaries.Binaries) -> None:
        client, peer = self.ctx.port("k8s-etcd"), self.ctx.port("k8s-etcd-peer")
        data = self.workdir / "etcd"
        self._spawn(
            "k8s-etcd",
            [
                str(bins.etcd),
                "--name=sandbox",
                f"--data-dir={data}",
                f"--listen-client-urls=http://127.0.0.1:{client}",
                f"--advertise-client-urls=http://127.0.0.1:{client}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=sandbox=http://127.0.0.1:{peer}",
                "--initial-cluster-state=new",
                "--quota-backend-bytes=8589934592",
                "--auto-compaction-mode=periodic",
                "--auto-compaction-retention=5m",
                "--unsafe-no-fsync",
                "--log-level=warn",
            ],
        )

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{client}/health", timeout=1) as response:
                    return json.loads(response.read()).get("health") == "true"
            except (OSError, ValueError):
                return False

        self._wait_process("k8s-etcd", healthy, 30, "etcd")

    def _start_apiserver(self, bins: binaries.Binaries, pki: Pki) -> None:
        cert_dir = self.workdir / "apiserver-certs"
        cert_dir.mkdir(exist_ok=True)
        # Events beyond 100/s (a scale run's 40,000 "Scheduled"/"SuccessfulCreate" events) are
        # refused at admission instead of costing an etcd write and a watch fan-out each.
        admission = self.workdir / "admission.yaml"
        admission.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "apiserver.config.k8s.io/v1",
                    "kind": "AdmissionConfiguration",
                    "plugins": [
                        {
                            "name": "EventRateLimit",
                            "configuration": {
                                "apiVersion": "eventratelimit.admission.k8s.io/v1alpha1",
                                "kind": "Configuration",
                                "limits": [{"type": "Server", "qps": 100, "burst": 500}],
                            },
                        }
                    ],
                }
            )
        )
        self._spawn(
            "k8s-apiserver",
            [
                str(bins.kube_apiserver),
                f"--etcd-servers=http://127.0.0.1:{self.ctx.port('k8s-etcd')}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.api_port}",
                f"--cert-dir={cert_dir}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                # Published in kube-system/extension-apiserver-authentication, which the controller
                # manager and scheduler read for their own serving endpoints.
                f"--requestheader-client-ca-file={pki.ca_cert}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                f"--token-auth-file={pki.token_file}",
                "--authorization-mode=RBAC",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                "--allow-privileged=true",
                # A kubelet registers its Node with a not-ready taint that the node lifecycle controller
                # lifts once the node is Ready; with thousands of kwok nodes created at once that
                # lifting takes minutes. kwok nodes are Ready at once, so register them without it.
                "--disable-admission-plugins=TaintNodesByCondition",
                "--enable-admission-plugins=EventRateLimit",
                f"--admission-control-config-file={admission}",
                "--endpoint-reconciler-type=none",
                "--enable-priority-and-fairness=false",
                "--max-requests-inflight=4000",
                "--max-mutating-requests-inflight=2000",
                "--event-ttl=30m",
                "--profiling=false",
                "--v=1",
            ],
        )
        self._wait_process("k8s-apiserver", self._api_ready, 90, "kube-apiserver /readyz")

    def _start_controllers(self, bins: binaries.Binaries, pki: Pki) -> None:
        kcm_kubeconfig = self.pki_dir / "kube-controller-manager.kubeconfig"
        kcm_port = self.ctx.port("k8s-controller-manager")
        self._spawn(
            "k8s-controller-manager",
            [
                str(bins.kube_controller_manager),
                f"--kubeconfig={kcm_kubeconfig}",
                f"--authentication-kubeconfig={kcm_kubeconfig}",
                f"--authorization-kubeconfig={kcm_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={kcm_port}",
                f"--cert-dir={self.workdir / 'controller-manager-certs'}",
                "--leader-elect=false",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                f"--cluster-signing-cert-file={pki.ca_cert}",
                f"--cluster-signing-key-file={pki.ca_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--use-service-account-credentials=true",
                # The TTL controller re-annotates every Node when the cluster crosses a size bucket
                # (5,000 writes at 5,000 nodes) for a kubelet cache hint nobody reads here.
                "--controllers=*,-ttl-controller",
                # ReplicaSets create pods in parallel batches of up to 500: keep what reaches the API
                # server under its in-flight limit (a 429 puts a ReplicaSet into long back-off).
                "--kube-api-qps=300",
                "--kube-api-burst=600",
                "--concurrent-deployment-syncs=10",
                "--concurrent-replicaset-syncs=10",
                "--concurrent-gc-syncs=40",
                # kwok renews node leases every NODE_LEASE_SECONDS/4; allow a missed renewal or two.
                f"--node-monitor-grace-period={NODE_LEASE_SECONDS * 2}s",
                "--v=1",
            ],
        )
        scheduler_kubeconfig = self.pki_dir / "kube-scheduler.kubeconfig"
        scheduler_config = self.workdir / "kube-scheduler.yaml"
        scheduler_config.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kubescheduler.config.k8s.io/v1",
                    "kind": "KubeSchedulerConfiguration",
                    "clientConnection": {"kubeconfig": str(scheduler_kubeconfig), "qps": 800, "burst": 1600},
                    "leaderElection": {"leaderElect": False},
                    "parallelism": 16,
                    "profiles": [
                        {"schedulerName": "default-scheduler"},
                        # For the bulk pods of scale runs (scale.yaml): no spreading or affinity
                        # scoring, which walk every node for every pod, and only the scheduler's
                        # floor of 100 candidate nodes scored.
                        {
                            "schedulerName": BULK_SCHEDULER,
                            "percentageOfNodesToScore": 1,
                            "plugins": {
                                "multiPoint": {
                                    "disabled": [
                                        {"name": "PodTopologySpread"},
                                        {"name": "InterPodAffinity"},
                                        {"name": "ImageLocality"},
                                        {"name": "NodeResourcesBalancedAllocation"},
                                    ]
                                }
                            },
                        },
                    ],
                }
            )
        )
        self._spawn(
            "k8s-scheduler",
            [
                str(bins.kube_scheduler),
                f"--config={scheduler_config}",
                f"--authentication-kubeconfig={scheduler_kubeconfig}",
                f"--authorization-kubeconfig={scheduler_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={self.ctx.port('k8s-scheduler')}",
                f"--cert-dir={self.workdir / 'scheduler-certs'}",
                "--v=1",
            ],
        )
        self._spawn(
            "k8s-kwok",
            [
                str(bins.kwok),
                f"--config={manifests.kwok_config_path()}",
                f"--kubeconfig={self.pki_dir / 'kwok.kubeconfig'}",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                f"--node-lease-duration-seconds={NODE_LEASE_SECONDS}",
                f"--cidr={POD_CIDR}",
                f"--server-address=127.0.0.1:{self.ctx.port('k8s-kwok')}",
                "--v=WARN",
            ],
        )
        for name, port in (
            ("k8s-controller-manager", kcm_port),
            ("k8s-scheduler", self.ctx.port("k8s-scheduler")),
            ("k8s-kwok", self.ctx.port("k8s-kwok")),
        ):
            self._wait_process(name, lambda p=port: port_is_open(p), 60, name)

    def _wait_process(self, name: str, ready: Any, timeout: float, what: str) -> None:
        log = self.ctx.log_path(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if not self.ctx.is_running(name):
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:]) if log.exists() else ""
                raise SandboxError(f"{what} exited during start-up (log {log}):\n{tail}")
            time.sleep(0.1)
        raise SandboxError(f"{what} not ready after {timeout:.0f} s (see {log})")

    def _api_ready(self) -> bool:
        try:
            pki = self._pki()
            context = ssl.create_default_context(cafile=str(pki.ca_cert))
            request = urllib.request.Request(
                f"{self.server}/readyz", headers={"Authorization": f"Bearer {pki.token('admin')}"}
            )
            with urllib.request.urlopen(request, timeout=2, context=context) as response:
                return response.status == 200
        except (OSError, ValueError, KeyError):
            return False

    def kube(self) -> Kube:
        if self._kube is None:
            self._kube = Kube(str(self.kubeconfig))
        return self._kube

    # -- cluster content -------------------------------------------------------------------------
    def _apply_base(self, kube: Kube, bins: binaries.Binaries) -> None:
        errors: list[BaseException] = []

        def nodes() -> None:
            try:
                self.reconcile_nodes(kube, NodeShape(), wait=False)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        node_thread = threading.Thread(target=nodes, name="sandbox-nodes")
        node_thread.start()
        files = [(name, [manifests.substitute(o) for o in objs]) for name, objs in manifests.cluster_files()]
        for _, objs in files[:1]:  # namespaces
            for obj in objs:
                kube.apply(obj)
        crds = manifests.load_yaml_documents(bins.istio_crds)
        kube.apply_crds(crds, "Istio CRDs")
        for _, objs in files[1:]:
            for obj in objs:
                kube.apply_when_served(obj)
        self._apply_layout_extras(kube)
        self._reconcile_scale(kube)
        node_thread.join()
        if errors:
            raise errors[0]

    def _apply_layout_extras(self, kube: Kube) -> None:
        """The current layout's Secrets put back whole (applied, a Secret would keep the keys another layout's
        Secret of the same name gave it); the helm layout's Gateway API edge installed (and the controller's status
        written) or removed; then the objects only another layout has are deleted (the helm layout's Ingress)."""
        manifest_secrets = [o for o in manifests.cluster_objects() if o["kind"] == "Secret"]
        for secret in [*manifest_secrets, *layout.secrets(self.ctx, self.layout())]:
            kube.replace(secret)
        if self.layout() == "helm":
            # the server chart's edge with gateway.enabled/httproute.enabled instead of its Ingress
            gateway_api.install_edge(kube)
        elif "gateway-api-edge" not in self.ctx.active_scenarios():
            self._remove_gateway_edge(kube)
        for ref in layout.stale_refs(self.ctx, self.layout()):
            kube.delete(ref)

    @staticmethod
    def _remove_gateway_edge(kube: Kube) -> None:
        """The helm layout's Gateway API edge, when there is one (the CRDs stay, as after gateway-api-edge)."""
        try:
            kube.resource(gateway_api.API_VERSION, "Gateway")
        except SandboxError:  # the Gateway API was never installed: no edge to remove
            return
        gateway_api.remove_edge(kube)

    def switch_layout(self, name: str) -> None:
        """Lay the running cluster's Prefect objects out as `name` in place: apply its objects, delete the ones
        only the other layout has, wait until its workloads are rolled out."""
        name = layout.known(name)
        started = time.monotonic()
        self.ctx.set("layout", name)
        manifests.set_layout(name)
        kube = self.kube()
        for _, objs in manifests.cluster_files()[1:]:
            for obj in objs:
                kube.apply_when_served(manifests.substitute(obj))
        self._apply_layout_extras(kube)
        self._wait_workloads(kube, timeout=120)
        _log(f"layout {name} in place after {time.monotonic() - started:.1f} s")

    def _reconcile_scale(self, kube: Kube) -> None:
        """The scale-<i> shards for --pods: apply the wanted ones, delete the others."""
        objs = manifests.scale_objects(self.pod_count())
        wanted = {o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"}
        for namespace in kube.list(Ref("v1", "Namespace", label_selector=f"{manifests.SCALE_LABEL}=true")):
            if namespace["metadata"]["name"] not in wanted:
                kube.delete(Ref("v1", "Namespace", namespace["metadata"]["name"]))
        parallel(kube.apply, [o for o in objs if o["kind"] == "Namespace"], workers=8)
        parallel(kube.apply, [o for o in objs if o["kind"] != "Namespace"], workers=8)

    def reconcile_nodes(self, kube: Kube, shape: NodeShape, wait: bool = True) -> None:
        """Make the node group exactly `shape` (count, labels, capacity); create/delete/patch in bulk."""
        pool = NodePool.load()
        count = shape.count if shape.count is not None else self.node_count()
        version = binaries.k8s_version()
        desired = {pool.name(i): pool.node(i, shape, version) for i in range(count)}
        existing = {n["metadata"]["name"]: n for n in kube.list(Ref("v1", "Node", label_selector=NODE_GROUP_SELECTOR))}
        to_create = [node for name, node in desired.items() if name not in existing]
        to_delete = [name for name in existing if name not in desired]
        to_patch = [
            (desired[name], current)
            for name, current in existing.items()
            if name in desired and not _node_matches(current, desired[name])
        ]
        if to_create or to_delete or to_patch:
            _log(f"nodes: creating {len(to_create)}, deleting {len(to_delete)}, reshaping {len(to_patch)}")
        workers = 24 if len(to_create) > 100 else 8
        parallel(kube.create, to_create, workers=workers)
        parallel(lambda n: _patch_node(kube, *n), to_patch, workers=workers)

        def delete(name: str) -> None:
            kube.delete(Ref("v1", "Node", name))
            # The pod GC waits ~40 s before dropping pods of a vanished node; do it now so the
            # ReplicaSets reschedule at once, as they would after a cloud node is drained.
            for pod in kube.list(Ref("v1", "Pod"), field_selector=f"spec.nodeName={name}"):
                meta = pod["metadata"]
                kube.delete(Ref("v1", "Pod", meta["name"], meta["namespace"]), grace_seconds=0)

        parallel(delete, to_delete, workers=8)
        if wait:
            self._wait_nodes(kube, desired, timeout=60 + count * 0.05)
            self._wait_workloads(kube, timeout=120)

    def _wait_nodes(self, kube: Kube, desired: dict[str, Obj], timeout: float) -> None:
        def ready() -> bool:
            nodes = kube.list(Ref("v1", "Node", label_selector=NODE_GROUP_SELECTOR))
            if {n["metadata"]["name"] for n in nodes} != set(desired):
                return False
            return all(_node_ready(n) and _node_matches(n, desired[n["metadata"]["name"]]) for n in nodes)

        # Listing thousands of nodes costs the API server: poll large groups less often.
        interval = 0.5 if len(desired) < 200 else 3.0
        wait_for(ready, timeout, f"{len(desired)} Ready nodes", interval=interval)

    def _wait_ready(self, kube: Kube) -> None:
        pool = NodePool.load()
        count = self.node_count()
        version = binaries.k8s_version()
        shape = NodeShape()
        active = self.ctx.active_scenarios()
        for scenario in active:
            for op in manifests.scenarios().get(scenario, manifests.Scenario("", "", (), None)).apply:
                if "nodes" in op:
                    shape = NodeShape.parse(op["nodes"])
        count = shape.count if shape.count is not None else count
        desired = {pool.name(i): pool.node(i, shape, version) for i in range(count)}
        self._wait_nodes(kube, desired, timeout=120 + count * 0.1)
        crashing = {
            (op["wait"]["crashloop"]["namespace"], op["wait"]["crashloop"]["name"])
            for scenario in active
            if scenario in manifests.scenarios()
            for op in manifests.scenarios()[scenario].apply
            if "crashloop" in (op.get("wait") or {})
        }
        self._wait_workloads(kube, timeout=120 + self.pod_count() * 0.05, crashing=crashing)

    def _wait_workloads(self, kube: Kube, timeout: float, crashing: AbstractSet[tuple[str, str]] = frozenset()) -> None:
        def done() -> bool:
            deployments = [
                d for ns in SANDBOX_NAMESPACES for d in kube.list(Ref("apps/v1", "Deployment", namespace=ns))
            ]
            if self.pod_count():
                deployments += kube.list(
                    Ref("apps/v1", "Deployment", label_selector="app.kubernetes.io/name=scale-load")
                )
            for deployment in deployments:
                where = (deployment["metadata"]["namespace"], deployment["metadata"]["name"])
                if where in crashing:
                    continue
                if not _rolled_out(deployment):
                    return False
                # Controller status can lag a pod deletion: count the sandbox's own pods too.
                if where[0] in SANDBOX_NAMESPACES and not _pods_settled(kube, deployment):
                    return False
            return True

        wait_for(done, timeout, "Deployments available", interval=0.5)

    # -- scenarios -------------------------------------------------------------------------------
    def scenario_layout(self, scenario: str) -> str | None:
        return self._scenario(scenario).layout

    def apply(self, scenario: str) -> None:
        spec = self._scenario(scenario)
        kube = self.kube()
        for op in spec.apply:
            self._run_op(kube, op)

    def revert(self, scenario: str) -> None:
        spec = self._scenario(scenario)
        kube = self.kube()
        ops = spec.revert if spec.revert is not None else _default_revert(spec.apply)
        for op in ops:
            self._run_op(kube, op)

    def _scenario(self, scenario: str) -> manifests.Scenario:
        known = manifests.scenarios()
        if scenario not in known:
            raise SandboxError(f"kubernetes: unknown scenario {scenario!r}")
        return known[scenario]

    def _run_op(self, kube: Kube, op: Obj) -> None:
        if "nodes" in op:
            self.reconcile_nodes(kube, NodeShape.parse(op["nodes"] or {}))
        elif "delete" in op:
            ref = Ref.parse(op["delete"])
            base = manifests.base_object(ref) if ref.name else None
            kube.delete(ref, grace_seconds=0 if ref.kind == "Pod" else None)
            if ref.name:
                wait_for(lambda: kube.get(ref) is None, 60, f"{ref} deleted")
            if base is not None and base["kind"] == "Deployment":
                selector = ",".join(f"{k}={v}" for k, v in base["spec"]["selector"]["matchLabels"].items())
                pods = Ref("v1", "Pod", namespace=ref.namespace, label_selector=selector)
                wait_for(lambda: not kube.list(pods), 60, f"pods of {ref} gone")
        elif "patch" in op:
            spec = op["patch"]
            ref = Ref.parse(spec["target"])
            targets = [ref]
            if not ref.name:
                targets = [
                    Ref(ref.api_version, ref.kind, o["metadata"]["name"], o["metadata"].get("namespace"))
                    for o in kube.list(ref)
                ]
            for target in targets:
                kube.patch(target, spec["body"], spec.get("type", "merge"), spec.get("subresource"))
        elif "apply" in op:
            kube.apply(op["apply"])
        elif "restore" in op:
            ref = Ref.parse(op["restore"])
            base = manifests.base_object(ref)
            if base is None:
                raise SandboxError(f"scenario restores {ref}, which the base manifests do not define")
            kube.replace(base)
            if base["kind"] == "Deployment":
                self._wait_rollout(kube, ref)
        elif "gatewayApi" in op:
            self._gateway_api_op(kube, op["gatewayApi"])
        elif "wait" in op:
            what = op["wait"]
            if "rollout" in what:
                target = what["rollout"]
                self._wait_rollout(kube, Ref("apps/v1", "Deployment", target["name"], target["namespace"]))
            elif "crashloop" in what:
                self._wait_crashloop(kube, what["crashloop"]["namespace"], what["crashloop"]["name"])
            else:
                raise SandboxError(f"unknown wait in scenario: {what}")
        else:
            raise SandboxError(f"unknown scenario operation: {op}")

    @staticmethod
    def _gateway_api_op(kube: Kube, what: str | Obj) -> None:
        """A Gateway API edge (gateway_api.py): install, remove, require (a fault's check that there is one),
        reconcile (the controller's status again), restore-routes, or {notProgrammed: {reason, message}} (the
        controller cannot program the Gateway)."""
        if what == "install":
            gateway_api.install_edge(kube)
        elif what == "require":
            gateway_api.require_edge(kube)
        elif what == "remove":
            gateway_api.remove_edge(kube)
        elif what == "reconcile":
            gateway_api.mark_status(kube)
        elif what == "restore-routes":
            gateway_api.restore_routes(kube)
        elif isinstance(what, dict) and "notProgrammed" in what:
            spec = what["notProgrammed"]
            gateway_api.mark_status(kube, programmed=(spec["reason"], spec["message"]))
        else:
            raise SandboxError(f"unknown gatewayApi operation in scenario: {what}")

    def _wait_rollout(self, kube: Kube, ref: Ref) -> None:
        def done() -> bool:
            deployment = kube.get(ref)
            return deployment is not None and _rolled_out(deployment) and _pods_settled(kube, deployment)

        wait_for(done, 90, f"rollout of {ref}", interval=0.5)

    def _wait_crashloop(self, kube: Kube, namespace: str, name: str) -> None:
        ref = Ref("apps/v1", "Deployment", name, namespace)

        def crashing() -> bool:
            deployment = kube.get(ref) or {}
            conditions = deployment.get("status", {}).get("conditions", [])
            available = any(c["type"] == "Available" and c["status"] == "True" for c in conditions)
            selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
            pods = kube.list(Ref("v1", "Pod", namespace=namespace, label_selector=selector))
            statuses = [cs for p in pods for cs in p.get("status", {}).get("containerStatuses", [])]
            restarted = any(cs.get("restartCount", 0) >= 1 for cs in statuses)
            return restarted and not available

        wait_for(crashing, 90, f"{ref} crash-looping", interval=0.5)


# -- helpers -------------------------------------------------------------------------------------
def _default_revert(ops: tuple[Obj, ...]) -> list[Obj]:
    """Undo `ops`: the node group back to its base shape, every touched object back to its manifest."""
    out: list[Obj] = []
    for op in ops:
        if "nodes" in op:
            out.append({"nodes": {}})
        if "apply" in op:  # an object the scenario adds: remove it
            obj = op["apply"]
            meta = obj["metadata"]
            target = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"]}
            out.append({"delete": {**target, **({"namespace": meta["namespace"]} if "namespace" in meta else {})}})
        for key in ("delete", "patch"):
            if key in op:
                target = op[key]["target"] if key == "patch" else op[key]
                restore = {"restore": target}
                if restore not in out:
                    out.append(restore)
    return out


def _node_ready(node: Obj) -> bool:
    conditions = node.get("status", {}).get("conditions", [])
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
    taints = node.get("spec", {}).get("taints") or []
    tainted = any(t["key"] == "node.kubernetes.io/not-ready" for t in taints)
    return ready and not tainted


def _quantity_equal(a: str | None, b: str | None) -> bool:
    return str(a) == str(b)


def _node_matches(current: Obj, desired: Obj) -> bool:
    labels = current["metadata"].get("labels", {})
    if any(labels.get(k) != v for k, v in desired["metadata"]["labels"].items()):
        return False
    status = current.get("status", {})
    want_version = desired["status"]["nodeInfo"].get("kubeletVersion")
    if status.get("nodeInfo", {}).get("kubeletVersion") != want_version:
        return False
    for key in ("capacity", "allocatable"):
        have = status.get(key, {})
        if any(not _quantity_equal(have.get(k), v) for k, v in desired["status"][key].items()):
            return False
    return True


def _patch_node(kube: Kube, desired: Obj, current: Obj) -> None:
    ref = Ref("v1", "Node", desired["metadata"]["name"])
    kube.patch(ref, {"metadata": {"labels": desired["metadata"]["labels"]}})
    status = {key: desired["status"][key] for key in ("capacity", "allocatable", "nodeInfo")}
    kube.patch(ref, {"status": status}, subresource="status")


def _pods_settled(kube: Kube, deployment: Obj) -> bool:
    """Exactly `replicas` pods of the Deployment, all Running and Ready, none terminating."""
    selector = ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())
    namespace = deployment["metadata"]["namespace"]
    pods = kube.list(Ref("v1", "Pod", namespace=namespace, label_selector=selector))
    return len(pods) == deployment["spec"].get("replicas", 1) and all(_pod_ready(p) for p in pods)


def _pod_ready(pod: Obj) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    status = pod.get("status", {})
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    return status.get("phase") == "Running" and ready


def _rolled_out(deployment: Obj) -> bool:
    spec, status = deployment["spec"], deployment.get("status", {})
    want = spec.get("replicas", 1)
    return (
        status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
        and status.get("updatedReplicas", 0) == want
        and status.get("availableReplicas", 0) == want
        and status.get("replicas", 0) == want
    )
