"""
The Helm chart, rendered and linted by Helm's own engine, without a cluster: what it makes for
the default values and for other value sets, what its schema refuses, and that the plain
manifests and the CRD copies are the chart's.
"""
from __future__ import annotations

from typing import Any

import pytest
from helm_python import HelmError

from tests.deploy import chart, generate

DIGEST = "sha256:" + "ab" * 32


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return chart.find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def env_of(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in
            container(docs)["env"]}


def test_the_chart_lints_clean_in_strict_mode():
    for values in (None, {"watchNamespaces": ["team-a"], "replicaCount": 1}):
        report = chart.lint(values)
        problems = [m for m in report["messages"] if m["severity"] >= chart.WARNING]
        assert report["errors"] == [] and problems == [], report


def test_default_values_make_a_hardened_two_replica_cluster_wide_install():
    docs = chart.render()

    assert sorted(chart.kinds(docs)) == sorted([
        "ClusterKopfPeering", "ClusterRole", "ClusterRoleBinding", "Deployment",
        "PodDisruptionBudget", "Service", "ServiceAccount"])
    deployment = chart.find(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert deployment["spec"]["replicas"] == 2
    assert pod["serviceAccountName"] == "orgo-operator"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}

    main = container(docs)
    assert main["securityContext"] == {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}}
    assert main["image"] == "orgo-operator:0.1.0"
    assert main["args"] == [
        "run", "--all-namespaces", "--peering", "--peering-name=orgo-operator",
        "--priority=auto", "--liveness=http://0.0.0.0:8080/healthz", "--metrics-port=9090",
        "--log-format=json"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert main[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {
        "health": 8080, "http-metrics": 9090}

    env = env_of(docs)
    assert env["ORGO_API_KEY_FILE"] == "/var/run/secrets/orgo/api-key"
    assert env["ORGO_API_URL"] == "https://www.orgo.ai/api"
    assert env["ORGO_PEERING_LIFETIME"] == "15"
    assert env["POD_ID"] == {"fieldRef": {"fieldPath": "metadata.name"}}

    # No key given: the pods expect a Secret that the user (or a GitOps tool) provides.
    volume = next(v for v in pod["volumes"] if v["name"] == "api-key")
    assert volume["secret"]["secretName"] == "orgo-operator-api-key"
    assert "kubectl create secret generic orgo-operator-api-key" in chart.notes()

    budget = chart.find(docs, "PodDisruptionBudget")
    assert budget["spec"]["maxUnavailable"] == 1
    assert budget["spec"]["selector"] == deployment["spec"]["selector"]


def test_one_replica_has_no_disruption_budget_and_no_anti_affinity():
    docs = chart.render({"replicaCount": 1})
    assert "PodDisruptionBudget" not in chart.kinds(docs)
    assert "affinity" not in chart.find(docs, "Deployment")["spec"]["template"]["spec"]


def test_a_namespace_list_gets_a_role_and_a_peering_object_in_each():
    docs = chart.render({"watchNamespaces": ["team-a", "team-b"]})

    for namespace in ("team-a", "team-b"):
        role = chart.find(docs, "Role", namespace=namespace)
        assert {r["resources"][0] for r in role["rules"]} == {
            "orgocomputers", "orgocomputers/status", "events", "kopfpeerings"}
        binding = chart.find(docs, "RoleBinding", namespace=namespace)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "orgo-operator",
                                        "namespace": "orgo-system"}]
        chart.find(docs, "KopfPeering", namespace=namespace)
    assert "ClusterKopfPeering" not in chart.kinds(docs)

    # Cluster-wide, only what kopf needs to find the resource and follow the namespaces.
    cluster_role = chart.find(docs, "ClusterRole")
    assert [(r["resources"], r["verbs"]) for r in cluster_role["rules"]] == [
        (["customresourcedefinitions"], ["list", "watch"]),
        (["namespaces"], ["list", "watch"])]
    assert container(docs)["args"][1:3] == ["--namespace=team-a", "--namespace=team-b"]


def test_a_key_value_becomes_a_secret_that_rolls_the_pods_when_it_changes():
    docs = chart.render({"orgo": {"apiKey": {"value": "sk_test_one"}}})
    secret = chart.find(docs, "Secret")
    assert secret["metadata"]["name"] == "orgo-operator-api-key"
    assert set(secret["data"]) == {"api-key"}

    def checksum(key: str) -> str:
        deployment = chart.find(chart.render({"orgo": {"apiKey": {"value": key}}}),
                                "Deployment")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/api-key"]

    assert checksum("sk_test_one") != checksum("sk_test_two")


def test_an_existing_secret_is_mounted_by_name_and_key():
    docs = chart.render({"orgo": {"apiKey": {"existingSecret": "vault-orgo",
                                             "existingSecretKey": "token"}}})
    assert "Secret" not in chart.kinds(docs)
    pod = chart.find(docs, "Deployment")["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "api-key")
    assert volume["secret"]["secretName"] == "vault-orgo"
    assert volume["secret"]["items"] == [{"key": "token", "path": "token"}]
    assert env_of(docs)["ORGO_API_KEY_FILE"] == "/var/run/secrets/orgo/token"


def test_every_pod_setting_reaches_the_pod():
    values = {
        "image": {"repository": "registry.example/orgo-operator", "digest": DIGEST,
                  "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "registry"}],
        "logLevel": "debug", "logFormat": "plain",
        "orgo": {"apiUrl": "https://orgo.internal/api"},
        "peering": {"name": "orgo-peers", "lifetime": 30},
        "resources": {"requests": {"cpu": "100m", "memory": "200Mi"},
                      "limits": {"memory": "300Mi"}},
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops",
                         "effect": "NoSchedule"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "pool", "operator": "In", "values": ["ops"]}]}]}}},
        "podSecurityContext": {"runAsNonRoot": True, "runAsUser": 10001},
        "priorityClassName": "system-cluster-critical",
        "podAnnotations": {"team": "platform"},
        "extraEnv": [{"name": "ORGO_RESYNC_INTERVAL", "value": "120"}],
    }
    docs = chart.render(values)
    pod = chart.find(docs, "Deployment")["spec"]["template"]["spec"]
    main = container(docs)

    assert main["image"] == f"registry.example/orgo-operator@{DIGEST}"
    assert main["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "registry"}]
    assert "--debug" in main["args"] and "--log-format=plain" in main["args"]
    assert "--peering-name=orgo-peers" in main["args"]
    assert chart.find(docs, "ClusterKopfPeering")["metadata"]["name"] == "orgo-peers"
    assert main["resources"] == values["resources"]
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName"):
        assert pod[key] == values[key]
    # Helm merges a map given in values into the default one, key by key.
    assert values["podSecurityContext"].items() <= pod["securityContext"].items()
    assert env_of(docs)["ORGO_API_URL"] == "https://orgo.internal/api"
    assert env_of(docs)["ORGO_PEERING_LIFETIME"] == "30"
    assert env_of(docs)["ORGO_RESYNC_INTERVAL"] == "120"
    assert pod_annotations(docs)["team"] == "platform"


def pod_annotations(docs: list[dict[str, Any]]) -> dict[str, str]:
    return chart.find(docs, "Deployment")["spec"]["template"]["metadata"]["annotations"]


def test_metrics_can_be_off_or_scraped_by_a_service_monitor():
    assert not {"Service"} & set(chart.kinds(chart.render({"metrics": {"enabled": False}})))
    assert not any(a.startswith("--metrics-port") for a in
                   container(chart.render({"metrics": {"enabled": False}}))["args"])

    docs = chart.render({"metrics": {"serviceMonitor": {"enabled": True,
                                                        "labels": {"release": "prom"}}}})
    monitor = chart.find(docs, "ServiceMonitor")
    service = chart.find(docs, "Service")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= \
        service["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]


@pytest.mark.parametrize("values, message", [
    ({"replicaCount": "two"}, "at '/replicaCount': got string, want integer"),
    ({"replicaCount": 0}, "/replicaCount"),
    ({"logFormat": "xml"}, "at '/logFormat': value must be one of 'json', 'plain', 'full'"),
    ({"logLevel": "loud"}, "/logLevel"),
    ({"watchNamespaces": "team-a"}, "at '/watchNamespaces': got string, want array"),
    ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
    ({"replicas": 2}, "additional properties 'replicas' not allowed"),
    ({"image": {"digest": "latest"}}, "/image/digest"),
    ({"orgo": {"apiUrl": "orgo.ai"}}, "/orgo/apiUrl"),
    ({"orgo": {"apiKey": {"secret": "x"}}}, "additional properties 'secret' not allowed"),
    ({"peering": {"lifetime": 0}}, "/peering/lifetime"),
    ({"metrics": {"port": 70000}}, "/metrics/port"),
    ({"resources": {"limits": {"memory": "a lot"}}}, "/resources/limits/memory"),
])
def test_the_schema_refuses_a_wrong_value_naming_it(values, message):
    with pytest.raises(HelmError) as refused:
        chart.validate(values)
    assert message in str(refused.value)

    # And so does an install: the values are checked before any template runs.
    with pytest.raises(HelmError) as refused:
        chart.render(values)
    assert "don't meet the specifications of the schema" in str(refused.value)
    assert message in str(refused.value)


@pytest.mark.parametrize("values, message", [
    ({"orgo": {"apiKey": {"value": "sk_x", "existingSecret": "mine"}}},
     "set either value (the chart creates a Secret) or existingSecret"),
    ({"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}},
     "metrics.serviceMonitor.enabled needs metrics.enabled"),
    ({"serviceAccount": {"create": False}}, "serviceAccount.name must name an existing"),
])
def test_contradicting_values_fail_with_a_message(values, message):
    with pytest.raises(HelmError) as refused:
        chart.render(values)
    assert message in str(refused.value)


def test_the_chart_ships_the_same_crd_as_the_repository():
    assert (chart.CHART / "crds" / generate.ORGO_CRD).read_bytes() == \
        (chart.CRDS / generate.ORGO_CRD).read_bytes()
    assert set(chart.crds()) == {generate.ORGO_CRD, "kopf.dev_clusterkopfpeerings.yaml",
                                 "kopf.dev_kopfpeerings.yaml"}


def test_the_plain_manifests_are_the_charts_defaults():
    outdated = generate.stale(generate.expected_files())
    assert outdated == [], "run `make manifests`: these differ from the chart's output"
