"""
The chart installed to watch a list of namespaces: a Role in each, and cluster-wide only what
kopf needs to find the resource and follow the namespaces. The operator reconciles there and
nowhere else, and its identity may touch nothing elsewhere.

Its own module, so that no operator watching every namespace (test_install's) is running.
"""
from __future__ import annotations

import functools

import pytest

from tests.conftest import computer_manifest
from tests.deploy import install
from tests.deploy.conftest import fresh_namespace

pytestmark = pytest.mark.e2e


def namespaced_rules(peering: str) -> set[tuple[str, str, str]]:
    return {
        ("customresourcedefinitions.apiextensions.k8s.io", "[]", "list watch"),
        ("namespaces", "[]", "list watch"),
        ("orgocomputers.orgo.ai", "[]", "get list patch watch"),
        ("orgocomputers.orgo.ai/status", "[]", "patch"),
        ("events", "[]", "create"),
        ("kopfpeerings.kopf.dev", "[]", "list watch"),
        ("kopfpeerings.kopf.dev", f"[{peering}]", "patch"),
    }


def test_a_namespace_list_is_all_the_operator_sees_and_may_touch(deploy_plane, simulator,
                                                                 workdir, orgo, workspace):
    watched = [fresh_namespace(deploy_plane, "team") for _ in range(2)]
    elsewhere = fresh_namespace(deploy_plane, "other")
    values = {"watchNamespaces": [c.namespace for c in watched], "replicaCount": 1}
    release = install.release(deploy_plane, simulator, workdir, name="listed", values=values)

    with release.pod(f"{release.fullname}-0") as pod:
        elsewhere.apply(computer_manifest("outside", workspace))
        watched[1].apply(computer_manifest("inside", workspace))
        watched[1].wait_ready("inside")

        # The unwatched one was there first and is still untouched: no status, no finalizer.
        outside = elsewhere.get("outside")
        assert "status" not in outside and not outside["metadata"].get("finalizers")
        assert len(install.in_workspace(orgo, workspace)) == 1

        for cluster in watched:
            assert install.granted_rules(deploy_plane, release.subject,
                                         namespace=cluster.namespace) == \
                namespaced_rules(release.fullname)
        may = functools.partial(install.can_i, deploy_plane, release.subject)
        assert may("patch", "orgocomputers.orgo.ai", namespace=watched[0].namespace)
        assert not may("list", "orgocomputers.orgo.ai", namespace=elsewhere.namespace)
        assert not may("list", "orgocomputers.orgo.ai")
        assert not may("create", "events", namespace=elsewhere.namespace)
        assert not may("list", "kopfpeerings.kopf.dev", namespace=elsewhere.namespace)
        assert not may("get", "secrets", namespace=watched[0].namespace)
        assert not may("list", "clusterkopfpeerings.kopf.dev")

        watched[1].kubectl("delete", "orgocomputer", "inside", "--timeout=60s")
        assert not install.in_workspace(orgo, workspace)
        assert pod.refusals() == []

    for cluster in (*watched, elsewhere):
        deploy_plane.kubectl("delete", "namespace", cluster.namespace, "--wait=false")
