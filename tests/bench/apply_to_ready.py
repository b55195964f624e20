"""
How long from `kubectl apply` to Ready, on the real control plane with the simulator, once
the operator is warm. Prints every sample and a summary; asserts nothing.

    python -m tests.bench.apply_to_ready [--samples 20] [--boot-seconds 0.5]

Each sample: one new OrgoComputer applied with kubectl; the clock starts before kubectl runs
and stops when a watch (opened before the apply) sees Ready=True. The simulator's request
log splits the time into apply -> POST /computers and POST -> Ready.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import kubernetes

from orgo_operator import GROUP, PLURAL, VERSION
from tests.conftest import computer_manifest
from tests.envtest.controlplane import ControlPlane
from tests.envtest.stack import Operator, Simulator


def ready_watch(api: kubernetes.client.CustomObjectsApi, name: str,
                done: dict[str, float], started: threading.Event) -> None:
    watch = kubernetes.watch.Watch()
    started.set()
    for event in watch.stream(api.list_namespaced_custom_object, GROUP, VERSION, "default",
                              PLURAL, field_selector=f"metadata.name={name}",
                              timeout_seconds=60):
        conditions = (event["object"].get("status") or {}).get("conditions") or []
        if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
            done["ready"] = time.time()
            watch.stop()


def sample(cluster: ControlPlane, api, orgo, workspace: str, index: int) -> tuple[float, float]:
    name = f"bench-{index}"
    done: dict[str, float] = {}
    started = threading.Event()
    watcher = threading.Thread(target=ready_watch, args=(api, name, done, started))
    watcher.start()
    started.wait()
    time.sleep(0.2)  # let the watch request reach the server
    t0 = time.time()
    cluster.kubectl("apply", "-f", "-", input=computer_manifest(name, workspace))
    watcher.join(timeout=60)
    if "ready" not in done:
        raise RuntimeError(f"{name} was not Ready within 60s")
    posted = next(r["time"] for r in orgo.requests()
                  if r["method"] == "POST" and (r["body"] or {}).get("name") == name)
    return done["ready"] - t0, posted - t0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.apply_to_ready")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--boot-seconds", type=float, default=0.5)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="orgo-bench-"))
    with ControlPlane.started(workdir / "cluster") as cluster, \
            Simulator.started(workdir, boot_seconds=args.boot_seconds) as simulator:
        cluster.kubectl("apply", "--server-side", "-f", "crds/")
        cluster.wait_established("crd/orgocomputers.orgo.ai")
        api = kubernetes.client.CustomObjectsApi(
            kubernetes.config.new_client_from_config(str(cluster.kubeconfig)))
        with Operator.started(workdir, cluster, simulator,
                              args=("--all-namespaces", "--standalone")), \
                simulator.control() as orgo:
            workspace = orgo.add_workspace(name="bench")["id"]
            sample(cluster, api, orgo, workspace, 0)  # warm-up, not counted

            totals, to_post = [], []
            for index in range(1, args.samples + 1):
                total, post = sample(cluster, api, orgo, workspace, index)
                totals.append(total)
                to_post.append(post)
                print(f"sample {index:2d}: apply->Ready {total:.3f}s "
                      f"(apply->POST {post:.3f}s, POST->Ready {total - post:.3f}s)")

    print(f"\napply -> Ready over {len(totals)} samples, boot {args.boot_seconds}s:")
    print(f"  min {min(totals):.3f}s  median {statistics.median(totals):.3f}s  "
          f"p90 {statistics.quantiles(totals, n=10)[-1]:.3f}s  max {max(totals):.3f}s")
    print(f"  apply -> POST median {statistics.median(to_post):.3f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
