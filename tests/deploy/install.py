"""
Installing the chart's objects on a control plane without nodes, and running the operator as
the pod would: with the chart's ServiceAccount identity and the Deployment's args and env.

    install(plane, crds=chart.crds().values(), docs=chart.render(values))
    kubeconfig = service_account_kubeconfig(plane, namespace=ns, name=sa, path=tmp / "sa")
    args, env = pod_command(deployment, api_url=..., api_key_file=..., kubeconfig=kubeconfig)

    wide = release(plane, simulator, workdir, name="wide", values={})   # all of the above
    with wide.pod("wide-orgo-operator-0") as pod:
        ...

Pods never run here, so the Deployment is applied and validated, and its container's command
runs as a local process instead; only what points outside the pod is replaced: the Orgo URL,
the mounted key file, the in-cluster identity (a token of the same ServiceAccount), the ports.
"""
from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import re
import subprocess
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy import chart
from tests.envtest.controlplane import ControlPlane, free_port
from tests.envtest.stack import Operator, Simulator

TOKEN_DURATION = "2h"
LIVENESS_FLAG = "--liveness="
METRICS_FLAG = "--metrics-port="
# What kube-apiserver prints when an object breaks the namespace's Pod Security level.
POD_SECURITY_WARNING = "would violate PodSecurity"
# A namespace label asking the API server to refuse, and to warn about, pods that break the
# "restricted" Pod Security Standard (pods never run here; the warning still comes).
RESTRICTED = ("pod-security.kubernetes.io/enforce=restricted",
              "pod-security.kubernetes.io/warn=restricted")


# Operator log lines that would mean its role is too narrow.
REFUSALS = ("Forbidden", "forbidden", " 403", "Not enough permissions")
# A row of `kubectl auth can-i --list`: resource (blank for URLs), URLs, names, verbs.
CAN_I_ROW = re.compile(r"^(\S*)\s+(\[.*?\])\s+(\[.*?\])\s+(\[.*?\])\s*$")


class InstallError(AssertionError):
    """The API server refused an object, or warned about one."""


def create_namespace(plane: ControlPlane, name: str, *, restricted: bool = True) -> None:
    plane.kubectl("create", "namespace", name)
    if restricted:
        plane.kubectl("label", "namespace", name, *RESTRICTED)


def apply(plane: ControlPlane, manifest: str, *, dry_run: bool = False,
          kustomize: Path | None = None) -> str:
    """Server-side apply; return what kubectl printed; refuse any warning it printed."""
    source = ["-k", str(kustomize)] if kustomize is not None else ["-f", "-"]
    args = ["apply", "--server-side", "--field-manager=orgo-deploy-tests", *source]
    if dry_run:
        args.append("--dry-run=server")
    result = plane.kubectl(*args, input=None if kustomize else manifest, check=False)
    if result.returncode != 0 or "Warning:" in result.stderr:
        raise InstallError(f"kubectl {' '.join(args)} said:\n{result.stderr}{result.stdout}")
    return result.stdout


def install_crds(plane: ControlPlane, crds: Iterable[str]) -> None:
    """As Helm does with crds/: apply them and wait until they are served."""
    manifest = "".join(f"---\n{text}\n" for text in crds)
    apply(plane, manifest, dry_run=True)
    apply(plane, manifest)
    names = [f"crd/{doc['metadata']['name']}" for doc in _docs(manifest)]
    plane.wait_established(*names)


def install(plane: ControlPlane, *, crds: Iterable[str], docs: Iterable[Mapping[str, Any]]) -> None:
    """The CRDs first, then every object: checked by a server-side dry run, then applied."""
    install_crds(plane, crds)
    manifest = chart.to_yaml(docs)
    apply(plane, manifest, dry_run=True)
    apply(plane, manifest)


@dataclasses.dataclass
class Release:
    """One install of the chart, whose pods can be run here as local processes."""

    plane: ControlPlane
    simulator: Simulator
    namespace: str
    fullname: str
    docs: list[dict[str, Any]]
    kubeconfig: Path
    key_file: Path
    workdir: Path

    @property
    def subject(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.fullname}"

    @contextlib.contextmanager
    def pod(self, name: str) -> Iterator[Pod]:
        """Run what the Deployment's pod NAME would, until the block ends."""
        metrics_port = free_port()
        args, env = pod_command(chart.find(self.docs, "Deployment"), pod_name=name,
                                api_url=self.simulator.api_url, api_key_file=self.key_file,
                                kubeconfig=self.kubeconfig, metrics_port=metrics_port)
        with Operator.started(self.workdir, self.plane, self.simulator, args=args, env=env,
                              name=name) as operator:
            yield Pod(name=name, operator=operator,
                      metrics_url=f"http://127.0.0.1:{metrics_port}/metrics")


@dataclasses.dataclass
class Pod:
    name: str
    operator: Operator
    metrics_url: str

    def refusals(self) -> list[str]:
        return [line for line in self.operator.log_text().splitlines()
                if any(word in line for word in REFUSALS)]


def release(plane: ControlPlane, simulator: Simulator, workdir: Path, *, name: str,
            values: Mapping[str, Any]) -> Release:
    """Install the chart as release NAME into a fresh namespace, its key the simulator's."""
    namespace = f"{name}-{uuid.uuid4().hex[:6]}"
    create_namespace(plane, namespace)
    values = {**values, "orgo": {"apiUrl": simulator.api_url,
                                 "apiKey": {"value": simulator.api_key}}}
    docs = chart.render(values, release=name, namespace=namespace)
    install(plane, crds=chart.crds().values(), docs=docs)

    # The pod's identity and its mounted key, on this machine.
    account = chart.find(docs, "ServiceAccount")["metadata"]["name"]
    folder = workdir / namespace
    kubeconfig = service_account_kubeconfig(plane, namespace=namespace, name=account,
                                            path=folder / "kubeconfig")
    key_file = folder / "api-key"
    key_file.write_text(secret_value(plane, namespace=namespace, name=f"{account}-api-key",
                                     key="api-key"))
    return Release(plane=plane, simulator=simulator, namespace=namespace, fullname=account,
                   docs=docs, kubeconfig=kubeconfig, key_file=key_file, workdir=folder)


def service_account_kubeconfig(plane: ControlPlane, *, namespace: str, name: str,
                               path: Path) -> Path:
    """A kubeconfig that authenticates as the ServiceAccount, with a token the API issued."""
    token = plane.kubectl("create", "token", name, "--namespace", namespace,
                          f"--duration={TOKEN_DURATION}").stdout.strip()
    admin = Path(plane.kubeconfig).read_text()
    authority = next(line.split(":", 1)[1].strip() for line in admin.splitlines()
                     if line.strip().startswith("certificate-authority:"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "apiVersion: v1\n"
        "kind: Config\n"
        "clusters:\n"
        "- name: envtest\n"
        f"  cluster: {{server: '{plane.server}', certificate-authority: '{authority}'}}\n"
        "users:\n"
        f"- name: {name}\n"
        f"  user: {{token: '{token}'}}\n"
        "contexts:\n"
        f"- name: {name}\n"
        f"  context: {{cluster: envtest, user: {name}, namespace: {namespace}}}\n"
        f"current-context: {name}\n"
    )
    path.chmod(0o600)
    return path


def pod_command(deployment: Mapping[str, Any], *, pod_name: str, api_url: str,
                api_key_file: Path, kubeconfig: Path,
                metrics_port: int | None = None) -> tuple[list[str], dict[str, str]]:
    """
    The operator container's arguments after `run` and its environment, ready for a local
    process: the `--liveness` flag is left to the caller (tests.envtest.stack.Operator picks
    a free port), the metrics port becomes a free loopback one.
    """
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    command, *args = container["args"]
    assert command == "run", container["args"]

    port = metrics_port or free_port()
    args = [arg for arg in args if not arg.startswith(LIVENESS_FLAG)]
    args = [f"{METRICS_FLAG}{port}" if arg.startswith(METRICS_FLAG) else arg for arg in args]

    env: dict[str, str] = {}
    for variable in container.get("env", []):
        if "value" in variable:
            env[variable["name"]] = variable["value"]
        elif variable.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == \
                "metadata.name":
            env[variable["name"]] = pod_name
        else:
            raise AssertionError(f"cannot stand in for {variable} outside a pod")
    env.update({
        "ORGO_API_URL": api_url,
        "ORGO_API_KEY_FILE": str(api_key_file),
        "ORGO_METRICS_ADDRESS": "127.0.0.1",
        "KUBECONFIG": str(kubeconfig),
    })
    return args, env


def secret_value(plane: ControlPlane, *, namespace: str, name: str, key: str) -> str:
    """One key of a Secret, decoded: what the pod would find in its mounted file."""
    secret = json.loads(plane.kubectl("get", "secret", name, "--namespace", namespace,
                                      "-o", "json").stdout)
    return base64.b64decode(secret["data"][key]).decode()


def can_i(plane: ControlPlane, subject: str, verb: str, resource: str, *,
          namespace: str | None = None) -> bool:
    """`kubectl auth can-i` for the subject (impersonated by the admin), as a bool."""
    scope = ["--namespace", namespace] if namespace else ["--all-namespaces"]
    result = plane.kubectl("auth", "can-i", verb, resource, f"--as={subject}", *scope,
                           check=False)
    answer = result.stdout.strip()
    if answer not in ("yes", "no"):
        raise subprocess.CalledProcessError(result.returncode, result.args, result.stdout,
                                            result.stderr)
    return answer == "yes"


def granted_rules(plane: ControlPlane, subject: str, *,
                  namespace: str) -> set[tuple[str, str, str]]:
    """
    What `kubectl auth can-i --list` says the subject may do in the namespace (cluster-wide
    grants included), as (resource, resource names, sorted verbs) rows. Left out: the
    self-review APIs and the discovery URLs that every authenticated user may use.
    """
    result = plane.kubectl("auth", "can-i", "--list", f"--as={subject}",
                           "--namespace", namespace)
    rows: set[tuple[str, str, str]] = set()
    for line in result.stdout.splitlines()[1:]:
        match = CAN_I_ROW.match(line)
        assert match, f"cannot read this line of kubectl auth can-i --list: {line!r}"
        resource, urls, names, verbs = match.groups()
        if urls != "[]" or resource.startswith("self"):
            continue
        rows.add((resource, names, " ".join(sorted(verbs.strip("[]").split()))))
    return rows


def in_workspace(orgo, workspace: str) -> list[dict]:
    return [c for c in orgo.computers() if c["workspace_id"] == workspace]


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Metric samples by name, then by their sorted labels."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=5).text):
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[labels] = sample.value
    return samples


def _docs(manifest: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(manifest) if doc]
