"""
Two replicas of the chart's operator against one control plane, as its Deployment runs them:
the older works and the younger stands by; killed without a word, the older is taken over
once its peering record expires, and the younger finishes what it had started. No computer
is created twice. How long the takeover takes is measured by tests/bench/failover.py; here
the waits are only generous bounds.
"""
from __future__ import annotations

import collections
import json

import pytest

from tests.conftest import computer_manifest, eventually
from tests.deploy import install
from tests.deploy.conftest import fresh_namespace
from tests.envtest.stack import Simulator

pytestmark = pytest.mark.e2e

# A short peering lifetime keeps the test short; the takeover waits for it to run out.
LIFETIME = 5
TAKEOVER_TIMEOUT = 90.0
# Long enough that the first replica is sure to die with the computer still booting.
LONG_BOOT = 3600.0
SHORT_BOOT = 0.5
RESUMED = "Resuming operations"


def peers(release: install.Release) -> set[str]:
    peering = json.loads(release.plane.kubectl(
        "get", "clusterkopfpeering", release.fullname, "-o", "json").stdout)
    return set(peering.get("status") or {})


def ready_reason(cluster, name: str) -> str | None:
    condition = cluster.ready(name)
    return condition and condition["reason"]


def creates_by_name(orgo, workspace: str) -> collections.Counter[str]:
    return collections.Counter(
        r["body"]["name"] for r in orgo.requests()
        if r["method"] == "POST" and r["path"] == "/api/computers"
        and (r["body"] or {}).get("workspace_id") == workspace)


def test_the_standby_takes_over_when_the_working_replica_dies(deploy_plane, workdir):
    with Simulator.started(workdir / "failover-simulator") as simulator, \
            simulator.control() as orgo:
        workspace = orgo.add_workspace(name="failover")["id"]
        release = install.release(deploy_plane, simulator, workdir, name="ha",
                                  values={"peering": {"lifetime": LIFETIME}})
        apps = fresh_namespace(deploy_plane, "ha-apps")
        first_name, second_name = f"{release.fullname}-a", f"{release.fullname}-b"

        with release.pod(first_name) as first, release.pod(second_name) as second:
            eventually(lambda: peers(release) == {first_name, second_name},
                       what="both replicas to be in the peering object")

            # The older replica takes the job and leaves it half done: the computer boots.
            orgo.set_boot_seconds(seconds=LONG_BOOT)
            apps.apply(computer_manifest("booting", workspace))
            eventually(lambda: ready_reason(apps, "booting") == "Booting",
                       what="the first replica to create the computer")
            # The log line follows the status write by a moment.
            eventually(lambda: "booting" in first.operator.log_text(),
                       what="the first replica to log the create")
            assert "booting" not in second.operator.log_text()
            assert "orgo_operator_reconciles_total" not in install.scrape(second.metrics_url)

            # It dies; meanwhile the computer boots, and another resource arrives.
            first.operator.kill()
            orgo.set_boot_seconds(seconds=SHORT_BOOT)
            computer, = install.in_workspace(orgo, workspace)
            orgo.set_status(computer_id=computer["id"], status="running")
            apps.apply(computer_manifest("after", workspace))

            # The standby resumes once the dead record expires, and finishes both.
            for name in ("booting", "after"):
                eventually(lambda: ready_reason(apps, name) == "Running",
                           timeout=TAKEOVER_TIMEOUT, interval=0.5,
                           what=f"the second replica to make {name} Ready")
            assert RESUMED in second.operator.log_text()
            assert creates_by_name(orgo, workspace) == {"booting": 1, "after": 1}
            assert len(install.in_workspace(orgo, workspace)) == 2
            assert apps.get("booting")["status"]["id"] == computer["id"]

            # The dead replica's record is cleaned away by the one that lives on.
            eventually(lambda: peers(release) == {second_name}, timeout=TAKEOVER_TIMEOUT,
                       what="the dead replica's record to be removed")
            assert second.refusals() == []
            apps.kubectl("delete", "orgocomputers", "--all", "--timeout=60s")

        deploy_plane.kubectl("delete", "namespace", apps.namespace, "--wait=false")
