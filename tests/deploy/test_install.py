"""
The chart and the kustomize manifests installed on a real control plane: every object passes
a server-side dry run and is applied, the pod passes the restricted Pod Security Standard,
the operator runs with the chart's ServiceAccount identity and the Deployment's command,
reconciles an OrgoComputer to Ready and serves its metrics, and its role allows nothing more
than it uses.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cluster, computer_manifest, eventually
from tests.deploy import chart, install
from tests.deploy.conftest import fresh_namespace

pytestmark = pytest.mark.e2e

SERVICE_MONITOR_CRD = Path(__file__).with_name("servicemonitor-crd.yaml")


def cluster_wide_rules(peering: str) -> set[tuple[str, str, str]]:
    return {
        ("customresourcedefinitions.apiextensions.k8s.io", "[]", "list watch"),
        ("orgocomputers.orgo.ai", "[]", "get list patch watch"),
        ("orgocomputers.orgo.ai/status", "[]", "patch"),
        ("events", "[]", "create"),
        ("clusterkopfpeerings.kopf.dev", "[]", "list watch"),
        ("clusterkopfpeerings.kopf.dev", f"[{peering}]", "patch"),
    }


@dataclasses.dataclass
class Running:
    release: install.Release
    pod: install.Pod


@pytest.fixture(scope="module")
def cluster_wide(deploy_plane, simulator, workdir) -> Iterator[Running]:
    release = install.release(deploy_plane, simulator, workdir, name="wide", values={})
    with release.pod(f"{release.fullname}-0") as pod:
        yield Running(release=release, pod=pod)


@pytest.fixture
def apps(deploy_plane) -> Iterator[Cluster]:
    cluster = fresh_namespace(deploy_plane, "apps")
    yield cluster
    deploy_plane.kubectl("delete", "namespace", cluster.namespace, "--wait=false", check=False)


def test_the_operator_runs_as_the_charts_service_account(cluster_wide):
    release = cluster_wide.release
    whoami = release.plane.kubectl(f"--kubeconfig={release.kubeconfig}", "auth", "whoami",
                                   "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == release.subject


def test_a_computer_becomes_ready_and_goes_under_that_identity(cluster_wide, apps, orgo,
                                                               workspace):
    apps.apply(computer_manifest("agent-1", workspace))
    obj = apps.wait_ready("agent-1")

    computers = install.in_workspace(orgo, workspace)
    assert [c["id"] for c in computers] == [obj["status"]["id"]]
    assert any(e["reason"] == "CreatedComputer" for e in apps.events("agent-1"))

    # The release needs the read, the finalizer's patch and the delete event too.
    apps.kubectl("delete", "orgocomputer", "agent-1", "--timeout=60s")
    eventually(lambda: not install.in_workspace(orgo, workspace), what="the computer to be deleted")
    assert cluster_wide.pod.refusals() == []


def test_the_service_account_may_do_only_what_the_operator_does(cluster_wide, apps):
    release = cluster_wide.release
    plane, subject = release.plane, release.subject
    assert install.granted_rules(plane, subject, namespace=apps.namespace) == \
        cluster_wide_rules(release.fullname)

    may = functools.partial(install.can_i, plane, subject)
    assert may("patch", "orgocomputers.orgo.ai", namespace=apps.namespace)
    for verb, resource in [
        ("get", "secrets"), ("list", "secrets"), ("create", "pods"),
        ("create", "deployments.apps"), ("delete", "orgocomputers.orgo.ai"),
        ("create", "orgocomputers.orgo.ai"), ("update", "orgocomputers.orgo.ai"),
        ("update", "orgocomputers.orgo.ai/status"), ("delete", "events"),
        ("patch", "customresourcedefinitions.apiextensions.k8s.io"),
        ("list", "namespaces"), ("create", "leases.coordination.k8s.io"),
        ("delete", "clusterkopfpeerings.kopf.dev"),
        ("patch", "clusterkopfpeerings.kopf.dev/someone-elses"),
        ("create", "clusterroles.rbac.authorization.k8s.io"),
    ]:
        assert not may(verb, resource), f"{subject} may {verb} {resource}"
    assert not may("get", "secrets", namespace=release.namespace)


def test_metrics_count_reconciles_requests_and_computers(cluster_wide, apps, orgo, workspace):
    apps.apply(computer_manifest("measured", workspace))
    apps.wait_ready("measured")

    url = cluster_wide.pod.metrics_url
    samples = eventually(
        lambda: (found := install.scrape(url))
        .get("orgo_operator_computers", {}).get((("phase", "running"),)) and found,
        what="the running computer to be counted")
    assert samples["orgo_operator_reconciles_total"][(("outcome", "Running"),)] >= 1
    assert samples["orgo_operator_orgo_requests_total"][
        (("code", "201"), ("endpoint", "create"))] >= 1
    assert samples["orgo_operator_orgo_requests_total"][
        (("code", "200"), ("endpoint", "get"))] >= 1
    assert samples["orgo_operator_orgo_request_duration_seconds_count"][
        (("endpoint", "create"),)] >= 1
    assert (("endpoint", "create"), ("le", "+Inf")) in \
        samples["orgo_operator_orgo_request_duration_seconds_bucket"]
    running = samples["orgo_operator_computers"][(("phase", "running"),)]

    # A deleted resource is no longer counted.
    apps.kubectl("delete", "orgocomputer", "measured", "--timeout=60s")
    eventually(lambda: install.scrape(url).get("orgo_operator_computers", {})
               .get((("phase", "running"),), 0) == running - 1,
               what="the deleted computer to be forgotten")


@pytest.mark.parametrize("values", [
    {"replicaCount": 1, "logLevel": "debug", "logFormat": "plain"},
    {"metrics": {"enabled": False}},
    {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}}},
    {"orgo": {"apiKey": {"existingSecret": "orgo-key", "existingSecretKey": "token"}}},
    {"serviceAccount": {"create": False, "name": "default"}},
    {"image": {"repository": "registry.example/orgo-operator", "digest": "sha256:" + "0" * 64},
     "nodeSelector": {"kubernetes.io/os": "linux"},
     "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}],
     "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
         {"topologyKey": "kubernetes.io/hostname",
          "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "orgo-operator"}}}]}},
     "resources": {"requests": {"cpu": "200m", "memory": "256Mi"},
                   "limits": {"cpu": 1, "memory": "512Mi"}}},
], ids=["one-replica", "no-metrics", "service-monitor", "existing-secret",
        "existing-service-account", "scheduling"])
def test_other_value_sets_apply_too(deploy_plane, release_namespace, values):
    install.install_crds(deploy_plane, [SERVICE_MONITOR_CRD.read_text()])
    release = f"v{uuid.uuid4().hex[:6]}"
    docs = chart.render(values, release=release, namespace=release_namespace)
    install.install(deploy_plane, crds=chart.crds().values(), docs=docs)
    for doc in docs:
        kind, name = doc["kind"].lower(), doc["metadata"]["name"]
        scope = ["-n", doc["metadata"]["namespace"]] if "namespace" in doc["metadata"] else []
        deploy_plane.kubectl("get", kind, name, *scope)


def test_the_kustomize_manifests_install_the_same_operator(deploy_plane):
    # The steps in deploy/manifests/kustomization.yaml, one by one.
    manifests = chart.MANIFESTS
    install.apply(deploy_plane, "", kustomize=manifests / "crds")
    deploy_plane.wait_established("crd/orgocomputers.orgo.ai",
                                  "crd/clusterkopfpeerings.kopf.dev", "crd/kopfpeerings.kopf.dev")
    install.apply(deploy_plane, (manifests / "namespace.yaml").read_text())
    deploy_plane.kubectl("create", "secret", "generic", "orgo-operator-api-key",
                         "--namespace", chart.NAMESPACE, "--from-literal=api-key=sk_test_x")
    install.apply(deploy_plane, "", kustomize=manifests, dry_run=True)
    install.apply(deploy_plane, "", kustomize=manifests)

    built = deploy_plane.kubectl("kustomize", str(manifests)).stdout
    assert built.count("kind: Deployment") == 1
    deployment = json.loads(deploy_plane.kubectl(
        "get", "deployment", "orgo-operator", "-n", chart.NAMESPACE, "-o", "json").stdout)
    rendered = chart.find(chart.render(), "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == \
        rendered["spec"]["template"]["spec"]["containers"][0]["args"]

    subject = f"system:serviceaccount:{chart.NAMESPACE}:orgo-operator"
    assert install.granted_rules(deploy_plane, subject, namespace="default") == \
        cluster_wide_rules("orgo-operator")
