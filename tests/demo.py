"""
The whole thing on one machine: a real control plane, the Orgo simulator and the operator,
then an OrgoComputer applied with kubectl and watched until it runs.

    python -m tests.demo          # keeps everything up until Ctrl-C, for you to play with
    python -m tests.demo --once   # exits 0 once the computer is Ready, 1 if it is not

Everything it starts lives under .run/demo/ (kubeconfig, logs) and stops when it exits.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from tests.envtest.controlplane import Assets, ControlPlane
from tests.envtest.stack import Operator, Simulator

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "deploy" / "examples" / "orgocomputer.yaml"
READY_TIMEOUT = 60

# The API server answers the first watches of a just-made CRD late (about 2 s here, while its
# watch cache fills), which a real cluster's long-installed CRD never does: let that pass,
# so the figure printed is the operator's, not the CRD's.
CRD_SETTLE_SECONDS = 3.0


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.demo", description=__doc__)
    parser.add_argument("--once", action="store_true",
                        help="exit once the computer is Ready (0) or has failed to be (1)")
    parser.add_argument("--dir", type=Path, default=REPO / ".run" / "demo",
                        help="where the demo keeps its files (default: .run/demo)")
    parser.add_argument("--boot-seconds", type=float, default=0.5,
                        help="how long a simulated computer takes to boot (default: 0.5)")
    args = parser.parse_args(argv)
    workdir: Path = args.dir.resolve()

    # SIGTERM unwinds like Ctrl-C, so every process started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    say("Finding or building kube-apiserver, etcd and kubectl (only the first run builds).")
    assets = Assets.locate()
    say("Starting etcd and kube-apiserver on 127.0.0.1.")
    with ControlPlane.started(workdir / "cluster", assets=assets) as cluster:
        say(f"Control plane at {cluster.server}; installing the OrgoComputer CRD.")
        cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
        cluster.wait_established("crd/orgocomputers.orgo.ai")
        # See CRD_SETTLE_SECONDS.
        time.sleep(CRD_SETTLE_SECONDS)
        with Simulator.started(workdir, boot_seconds=args.boot_seconds) as simulator:
            say(f"The Orgo simulator is at {simulator.api_url}.")
            return _run(args, workdir, assets, cluster, simulator)


def _run(args: argparse.Namespace, workdir: Path, assets: Assets, cluster: ControlPlane,
         simulator: Simulator) -> int:
    say(f"Starting the operator (log: {workdir / 'operator.log'}).")
    with Operator.started(workdir, cluster, simulator, args=("--all-namespaces", "--standalone")):
        say(f"kubectl apply -f {EXAMPLE.relative_to(REPO)}")
        started = time.monotonic()
        print(cluster.kubectl("apply", "-f", str(EXAMPLE)).stdout, end="")
        waited = cluster.kubectl("wait", "--for=condition=Ready", "orgocomputer/agent-1",
                                 f"--timeout={READY_TIMEOUT}s", check=False)
        elapsed = time.monotonic() - started

        print(cluster.kubectl("get", "orgocomputers", "-o", "wide").stdout, end="")
        status = json.loads(cluster.kubectl("get", "orgocomputer", "agent-1",
                                            "-o", "jsonpath={.status}").stdout or "{}")
        if waited.returncode != 0:
            say(f"The computer was not Ready within {READY_TIMEOUT}s: {status}")
            return 1
        say(f"Ready {elapsed:.2f}s after kubectl apply (both kubectl runs included): "
            f"id {status['id']}, phase {status['phase']}, url {status['url']}.")

        if args.once:
            return 0
        say("Everything stays up until Ctrl-C. In another shell:")
        print(f"    export KUBECONFIG={cluster.kubeconfig}")
        print(f"    {assets.kubectl} get orgocomputers -w")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            say("Stopping the operator, the simulator and the control plane.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
