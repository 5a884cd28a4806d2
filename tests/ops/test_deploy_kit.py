"""The in-cluster kit, the image definition and the CD examples, read as files: every overlay renders to
the whole kit, its pods run hardened as a non-root user, its profile loads, the ClusterRole grants exactly
what the read checks use, and every command the image and the CD examples run exists with those options."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from readiness.cli import build_parser
from readiness.core.profile import load_profile
from readiness.report.upload import StoreURL
from readiness.targets import load_targets_file
from tests.ops.kit import build
from tests.ops.rbac import READ_ACCESS, READ_URLS, REFUSED, SERVICE_ACCOUNT, granted

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KITS = {"base": DEPLOY / "base", **{cloud: DEPLOY / "overlays" / cloud for cloud in ("aws", "gcp", "azure")}}
IDENTITY = {
    "aws": ("eks.amazonaws.com/role-arn", "s3"),
    "gcp": ("iam.gke.io/gcp-service-account", "gs"),
    "azure": ("azure.workload.identity/client-id", "az"),
}


def _one(objects: list[dict], kind: str) -> dict:
    [obj] = [o for o in objects if o["kind"] == kind]
    return obj


def pod_specs(objects: list[dict]) -> dict[str, dict]:
    return {
        "Job": _one(objects, "Job")["spec"]["template"],
        "CronJob": _one(objects, "CronJob")["spec"]["jobTemplate"]["spec"]["template"],
    }


@pytest.mark.parametrize("kit", sorted(KITS))
def test_each_kit_renders_namespace_rbac_storage_job_and_cronjob(kit, tmp_path):
    objects = build(KITS[kit])
    assert sorted(o["kind"] for o in objects) == sorted(
        ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "PersistentVolumeClaim"]
        + ["Job", "CronJob"]
    )
    namespace = _one(objects, "Namespace")["metadata"]["name"]
    assert all(o["metadata"].get("namespace") == namespace for o in objects if o["kind"] not in ("Namespace",
               "ClusterRole", "ClusterRoleBinding"))  # fmt: skip
    binding = _one(objects, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == _one(objects, "ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": namespace}]
    # the profile the runs use loads, from a folder without the shipped profiles (as in the pod)
    config = _one(objects, "ConfigMap")
    (tmp_path / "profile.yaml").write_text(config["data"]["profile.yaml"])
    profile = load_profile(str(tmp_path / "profile.yaml"))
    if kit in IDENTITY:
        annotation, scheme = IDENTITY[kit]
        assert profile.cloud == kit
        assert StoreURL.parse(profile.settings.report_store).scheme == scheme
        assert annotation in _one(objects, "ServiceAccount")["metadata"]["annotations"]
    else:
        assert profile.settings.report_store is None  # the PVC by default
    # the targets file loads too, and the pods find it where the ConfigMap is mounted
    (tmp_path / "targets.yaml").write_text(config["data"]["targets.yaml"])
    load_targets_file(tmp_path / "targets.yaml")
    for pod in pod_specs(objects).values():
        spec = pod["spec"]
        assert spec["serviceAccountName"] == SERVICE_ACCOUNT
        [container] = spec["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        config_mount = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "config")
        assert env["READINESS_TARGETS"] == f"{config_mount}/targets.yaml"
        assert f"--profile={config_mount}/profile.yaml" in container["args"]
        # credentials come from a Secret the operator creates, as environment (the role reads no Secret)
        assert container["envFrom"] == [{"secretRef": {"name": "prefect-readiness-env", "optional": True}}]
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert (
            volumes["reports"]["persistentVolumeClaim"]["claimName"]
            == _one(objects, "PersistentVolumeClaim")["metadata"]["name"]
        )
        assert volumes["config"]["configMap"]["name"] == config["metadata"]["name"]
        if kit == "azure":
            assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"


@pytest.mark.parametrize("kit", sorted(KITS))
def test_pods_run_hardened_as_the_image_user(kit):
    user = dockerfile_instruction("USER")
    for kind, pod in pod_specs(build(KITS[kit])).items():
        spec = pod["spec"]
        security = spec["securityContext"]
        assert security["runAsNonRoot"] is True and f"{security['runAsUser']}:{security['runAsGroup']}" == user, kind
        assert security["seccompProfile"] == {"type": "RuntimeDefault"}
        [container] = spec["containers"]
        assert container["image"].endswith(":0.1.0") and "/" in container["image"]
        context = container["securityContext"]
        assert context == {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        }
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert {"/reports", "/tmp", "/etc/readiness"} <= mounts  # the only writable places: reports and HOME
        assert {"name": "HOME", "value": "/tmp"} in container["env"]


def test_the_audit_is_read_only_against_the_previous_report_and_the_gate_runs_once():
    objects = build(KITS["base"])
    cron = _one(objects, "CronJob")
    audit = pod_specs(objects)["CronJob"]["spec"]["containers"][0]["args"]
    assert "--read-only" in audit and "--baseline=previous" in audit
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    gate = _one(objects, "Job")
    assert gate["spec"]["backoffLimit"] == 0 and gate["spec"]["template"]["spec"]["restartPolicy"] == "Never"


def test_the_cluster_role_grants_exactly_what_the_read_checks_use():
    role = _one(build(KITS["base"]), "ClusterRole")
    accesses, urls = granted(role)
    extra, missing = sorted(accesses - READ_ACCESS), sorted(READ_ACCESS - accesses)
    assert (extra, missing) == ([], []), f"granted but not used: {extra}; used but not granted: {missing}"
    assert urls == set(READ_URLS)
    assert not any("*" in (a.verb, a.group, a.resource) for a in accesses)
    for refused in REFUSED:  # a rule limited to resourceNames grants only those names
        assert not any(
            (a.verb, a.group, a.resource) == refused[:3] and a.name in (None, refused.name) for a in accesses
        ), refused


# -- commands: the image's entrypoint and every readiness/pytest command of the CD examples -------------
@cache
def pytest_options() -> frozenset[str]:
    """The options pytest knows with the readiness plugin loaded (what `readiness run` passes on)."""
    text = subprocess.run([sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"], capture_output=True,
                          text=True, cwd=ROOT, check=True).stdout  # fmt: skip
    return frozenset(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", text))


def readiness_options(command: str) -> frozenset[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")  # argparse keeps subparsers here
    return frozenset(s for action in sub.choices[command]._actions for s in action.option_strings)


def assert_command_exists(argv: list[str], where: str) -> None:
    """`readiness SUBCOMMAND --opt ...`: the subcommand exists and each option is its own or, for `run`,
    one pytest knows."""
    assert argv[0] == "readiness", where
    command = argv[1]
    known = readiness_options(command)
    if command == "run":
        known |= pytest_options()
    for token in argv[2:]:
        if token.startswith("-"):
            option = token.split("=", 1)[0]
            assert option in known, f"{where}: `{' '.join(argv)}`: {option} is not an option of readiness {command}"


def dockerfile_instruction(name: str) -> str:
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(str(DEPLOY / "Dockerfile"))
    [value] = [i["value"] for i in parser.structure if i["instruction"] == name][-1:]
    return value


def test_the_image_copies_what_exists_and_runs_a_known_command_as_non_root():
    from dockerfile_parse import DockerfileParser

    parser = DockerfileParser(str(DEPLOY / "Dockerfile"))
    for instruction in parser.structure:
        if instruction["instruction"] == "COPY" and "--from=" not in instruction["value"]:
            *sources, _ = instruction["value"].split()
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile line {instruction['startline'] + 1}: {source} is missing"
    # the wheel carries every bundled folder: each is copied into the build stage
    from readiness.core.bundle import BUNDLED

    copied = {i["value"].split()[0].rstrip("/") for i in parser.structure if i["instruction"] == "COPY"}
    assert set(BUNDLED) <= copied
    assert dockerfile_instruction("USER").split(":")[0] not in ("0", "root")
    entrypoint = yaml.safe_load(dockerfile_instruction("ENTRYPOINT"))  # the exec form is a JSON (YAML) list
    assert_command_exists([*entrypoint, *yaml.safe_load(dockerfile_instruction("CMD"))], "Dockerfile ENTRYPOINT")
    assert "/reports" in entrypoint and dockerfile_instruction("WORKDIR") == "/reports"


def test_the_kit_s_container_args_are_options_of_the_entrypoint():
    entrypoint = yaml.safe_load(dockerfile_instruction("ENTRYPOINT"))
    for kind, pod in pod_specs(build(KITS["base"])).items():
        assert_command_exists([*entrypoint, *pod["spec"]["containers"][0]["args"]], f"deploy/base {kind}")


def _scripts(example: str, data: dict) -> list[str]:
    """The shell scripts each CI system runs, by its own schema."""
    if example == "github-actions.yml":
        return [step["run"] for job in data["jobs"].values() for step in job["steps"] if "run" in step]
    if example == "gitlab-ci.yml":
        return [
            line
            for job in data.values()
            if isinstance(job, dict)
            for key in ("before_script", "script", "after_script")
            for line in job.get(key, [])
        ]
    return [step["script"] for step in data["steps"] if "script" in step]


def _commands(script: str) -> list[list[str]]:
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        for part in re.split(r"&&|\|\||;", line):
            argv = shlex.split(part, comments=True)
            if argv:
                commands.append(argv)
    return commands


@pytest.mark.parametrize("example", ["github-actions.yml", "gitlab-ci.yml", "azure-pipelines.yml"])
def test_each_cd_example_runs_the_gate_with_options_that_exist_and_fails_on_fail_and_incomplete(example):
    text = (DEPLOY / "ci" / example).read_text()
    data = yaml.safe_load(text)
    commands = [argv for script in _scripts(example, data) for argv in _commands(script)]
    gates = [argv for argv in commands if argv[0] == "readiness"]
    assert [argv[:2] for argv in gates] == [["readiness", "run"]], example
    for argv in gates:
        assert_command_exists(argv, example)
        assert "--allow-incomplete" not in argv  # INCOMPLETE fails the job
    assert any(argv[:3] == ["helm", "upgrade", "--install"] for argv in commands)  # the gate follows the install
    assert "continue-on-error" not in text and "|| true" not in text
    # junit.xml and the Markdown summary are published, the HTML kept
    assert "readiness-report/junit.xml" in text and "conformance.md" in text and "readiness-report" in text
