"""
How long the standby replica takes to take over when the working one goes, with the chart's
Deployment command and ServiceAccount, on the real control plane. Prints every sample and a
summary; asserts nothing.

    python -m tests.bench.failover [--samples 3] [--lifetime 15]

Two kinds of end are measured. Killed (SIGKILL, as when a node is lost): the dead replica's
peering record has to expire first, so the takeover comes at most `lifetime` seconds after
the last keep-alive. Stopped (SIGTERM, as in a rolling update or a drain): the replica
withdraws its record as it goes, and the standby resumes at once.

Each sample: a new standby is started and seen in the peering object, the working replica is
ended, and at the same moment a new OrgoComputer is applied. Measured from the end: when the
standby logged that it resumes, and when the new resource is Ready.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import kubernetes

from orgo_operator import GROUP, PLURAL, VERSION
from tests.conftest import computer_manifest, eventually
from tests.deploy import chart, install
from tests.deploy.conftest import fresh_namespace
from tests.envtest.controlplane import ControlPlane
from tests.envtest.stack import Simulator

RESUMED = "Resuming operations"
READY_TIMEOUT = 180.0
POLL_INTERVAL = 0.05


@dataclasses.dataclass(frozen=True)
class Sample:
    how: str
    record_age: float  # how old the working replica's keep-alive was when it ended
    resumed: float
    ready: float


def resumed_at(log: Path) -> float | None:
    """When the replica logged that it resumes work, from its JSON log line."""
    for line in log.read_text(errors="replace").splitlines():
        if RESUMED in line:
            stamp = json.loads(line)["timestamp"]
            return datetime.datetime.fromisoformat(stamp).timestamp()
    return None


def last_seen(release: install.Release, identity: str) -> float:
    peering = json.loads(release.plane.kubectl(
        "get", "clusterkopfpeering", release.fullname, "-o", "json").stdout)
    stamp = peering["status"][identity]["lastseen"]
    return datetime.datetime.fromisoformat(stamp).timestamp()


def wait_ready(api: kubernetes.client.CustomObjectsApi, namespace: str, name: str) -> float:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        conditions = (obj.get("status") or {}).get("conditions") or []
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            return time.time()
        time.sleep(POLL_INTERVAL)
    raise RuntimeError(f"{name} was not Ready within {READY_TIMEOUT:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.failover")
    parser.add_argument("--samples", type=int, default=3, help="samples of each kind of end")
    parser.add_argument("--lifetime", type=int, default=15,
                        help="the peering lifetime, in seconds (the chart's default: 15)")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="orgo-failover-"))
    samples: list[Sample] = []
    with ControlPlane.started(workdir / "cluster") as plane, \
            Simulator.started(workdir / "simulator") as simulator, \
            simulator.control() as orgo, contextlib.ExitStack() as pods:
        release = install.release(plane, simulator, workdir, name="bench",
                                  values={"peering": {"lifetime": args.lifetime}})
        apps = fresh_namespace(plane, "bench")
        workspace = orgo.add_workspace(name="failover")["id"]
        api = kubernetes.client.CustomObjectsApi(
            kubernetes.config.new_client_from_config(str(plane.kubeconfig)))

        working = pods.enter_context(release.pod(f"{release.fullname}-0"))
        apps.apply(computer_manifest("warm-up", workspace))
        wait_ready(api, apps.namespace, "warm-up")

        for index, how in enumerate(["killed"] * args.samples + ["stopped"] * args.samples):
            standby = pods.enter_context(release.pod(f"{release.fullname}-{index + 1}"))
            eventually(lambda: standby.name in json.loads(plane.kubectl(
                "get", "clusterkopfpeering", release.fullname, "-o", "json").stdout)["status"],
                what="the standby to join the peering object")
            seen = last_seen(release, working.name)

            ended = time.time()
            if how == "killed":
                working.operator.kill()
            else:
                threading.Thread(target=working.operator.stop, daemon=True).start()
            name = f"job-{uuid.uuid4().hex[:6]}"
            apps.apply(computer_manifest(name, workspace))
            ready = wait_ready(api, apps.namespace, name)
            resumed = eventually(lambda: resumed_at(standby.operator.log_path),
                                 what="the standby to log that it resumes")

            sample = Sample(how=how, record_age=ended - seen, resumed=resumed - ended,
                            ready=ready - ended)
            samples.append(sample)
            print(f"{how:8s} {index + 1:2d}: resumed after {sample.resumed:5.2f}s, new resource "
                  f"Ready after {sample.ready:5.2f}s (its keep-alive was "
                  f"{sample.record_age:4.1f}s old)", flush=True)
            working = standby

    print(f"\nTakeover with a peering lifetime of {args.lifetime}s:")
    for how in ("killed", "stopped"):
        series = [s for s in samples if s.how == how]
        resumed = [s.resumed for s in series]
        ready = [s.ready for s in series]
        print(f"  {how:8s} resumed min {min(resumed):.2f}s median "
              f"{statistics.median(resumed):.2f}s max {max(resumed):.2f}s; "
              f"Ready max {max(ready):.2f}s")
    print(f"  a killed replica is taken over at most {args.lifetime}s after its last "
          "keep-alive, plus the time to resume")
    return 0


if __name__ == "__main__":
    sys.exit(main())
