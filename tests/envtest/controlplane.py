"""
A real Kubernetes control plane on loopback: etcd, kube-apiserver and kube-controller-manager
as plain processes, with no nodes and no kubelet, reached through a kubeconfig like any cluster.

    with ControlPlane.started(workdir) as cluster:
        cluster.kubectl("apply", "-f", "crds/")

As a command (the demo and people use it this way):

    python -m tests.envtest.controlplane up --dir .run/cluster   # prints the kubeconfig path
    python -m tests.envtest.controlplane assets                   # builds or finds the binaries

The binaries come from KUBEBUILDER_ASSETS when it points at a folder holding them, otherwise
from tests/envtest/build-assets.sh, which builds them once into a cache outside the repository.
kube-controller-manager is optional: without it namespaces never finish terminating, and that
is all it is run for (only its namespace and garbage-collector controllers).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

BUILD_SCRIPT = Path(__file__).with_name("build-assets.sh")
REQUIRED_BINARIES = ("etcd", "kube-apiserver")
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
CERT_LIFETIME = datetime.timedelta(days=7)


class ControlPlaneError(RuntimeError):
    """The control plane could not be built or started; the message says which part and why."""


class KubectlError(subprocess.CalledProcessError):
    """kubectl exited non-zero; unlike its parent, the message carries what kubectl said."""

    def __str__(self) -> str:
        return f"{super().__str__()} It said: {(self.stderr or self.stdout or '').strip()}"


@dataclasses.dataclass(frozen=True)
class Assets:
    """Where each binary is; kube-controller-manager and kubectl may come from elsewhere."""

    etcd: Path
    kube_apiserver: Path
    kubectl: Path
    kube_controller_manager: Path | None

    @classmethod
    def locate(cls, *, build: bool = True) -> Assets:
        """Honour KUBEBUILDER_ASSETS, fill its gaps from the build cache, build if needed."""
        user = os.environ.get("KUBEBUILDER_ASSETS", "").strip()
        user_dir = Path(user) if user else None
        if user_dir and all((user_dir / name).is_file() for name in REQUIRED_BINARIES):
            built = _build_assets() if build and not _has_extras(user_dir) else None
            return cls._from_dirs(user_dir, built)
        if user_dir:
            print(f"KUBEBUILDER_ASSETS={user} lacks etcd or kube-apiserver; building them.",
                  file=sys.stderr)
        if not build:
            raise ControlPlaneError("No control-plane binaries found, and building is off.")
        return cls._from_dirs(_build_assets(), None)

    @classmethod
    def _from_dirs(cls, primary: Path, fallback: Path | None) -> Assets:
        def pick(name: str) -> Path | None:
            for folder in (primary, fallback):
                if folder is not None and (folder / name).is_file():
                    return folder / name
            return None

        kubectl = pick("kubectl") or (Path(found) if (found := shutil.which("kubectl")) else None)
        if kubectl is None:
            raise ControlPlaneError(f"No kubectl in {primary} nor on PATH.")
        return cls(
            etcd=primary / "etcd",
            kube_apiserver=primary / "kube-apiserver",
            kubectl=kubectl,
            kube_controller_manager=pick("kube-controller-manager"),
        )


def _has_extras(folder: Path) -> bool:
    return (folder / "kubectl").is_file() and (folder / "kube-controller-manager").is_file()


def _build_assets() -> Path:
    result = subprocess.run(["bash", str(BUILD_SCRIPT)], stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise ControlPlaneError(f"{BUILD_SCRIPT} failed with exit code {result.returncode}.")
    return Path(result.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclasses.dataclass
class _Credentials:
    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    service_account_public: Path
    service_account_private: Path


def _write_credentials(folder: Path) -> _Credentials:
    """A throwaway CA, the API server's serving pair, an admin client pair and an SA key."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "envtest-ca")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERT_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(common_name: str, organization: str | None, *, server: bool):
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        if organization:
            attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes)).issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + CERT_LIFETIME)
            .add_extension(x509.ExtendedKeyUsage([
                x509.ExtendedKeyUsageOID.SERVER_AUTH if server
                else x509.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        )
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("10.0.0.1")),
            ]), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    serving_key, serving_cert = leaf("kube-apiserver", None, server=True)
    admin_key, admin_cert = leaf("envtest-admin", "system:masters", server=False)
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    paths = _Credentials(
        ca_cert=folder / "ca.crt",
        serving_cert=folder / "apiserver.crt",
        serving_key=folder / "apiserver.key",
        admin_cert=folder / "admin.crt",
        admin_key=folder / "admin.key",
        service_account_public=folder / "sa.pub",
        service_account_private=folder / "sa.key",
    )
    for path, cert in ((paths.ca_cert, ca_cert), (paths.serving_cert, serving_cert),
                       (paths.admin_cert, admin_cert)):
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    for path, key in ((paths.serving_key, serving_key), (paths.admin_key, admin_key),
                      (paths.service_account_private, sa_key)):
        path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        path.chmod(0o600)
    paths.service_account_public.write_bytes(sa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return paths


class ControlPlane:
    """One etcd, one kube-apiserver and, when available, one kube-controller-manager."""

    def __init__(self, *, workdir: Path, assets: Assets) -> None:
        self.workdir = workdir
        self.assets = assets
        self.kubeconfig = workdir / "kubeconfig"
        self.server = ""
        self._processes: list[tuple[str, subprocess.Popen[bytes]]] = []

    def __repr__(self) -> str:
        return f"ControlPlane(server={self.server!r}, kubeconfig={str(self.kubeconfig)!r})"

    @classmethod
    @contextlib.contextmanager
    def started(cls, workdir: Path, *, assets: Assets | None = None) -> Iterator[ControlPlane]:
        plane = cls(workdir=workdir, assets=assets or Assets.locate())
        try:
            plane.start()
            yield plane
        finally:
            plane.stop()

    def start(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        logs = self.workdir / "logs"
        logs.mkdir(parents=True)
        credentials = _write_credentials(self.workdir / "pki")

        etcd_client, etcd_peer, apiserver_port = free_port(), free_port(), free_port()
        self._spawn("etcd", [
            str(self.assets.etcd),
            "--name=envtest",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{etcd_client}",
            f"--advertise-client-urls=http://127.0.0.1:{etcd_client}",
            f"--listen-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{etcd_peer}",
            f"--initial-cluster=envtest=http://127.0.0.1:{etcd_peer}",
            "--listen-metrics-urls=",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ])

        self._spawn("kube-apiserver", [
            str(self.assets.kube_apiserver),
            f"--etcd-servers=http://127.0.0.1:{etcd_client}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={apiserver_port}",
            f"--cert-dir={self.workdir / 'apiserver-certs'}",
            f"--tls-cert-file={credentials.serving_cert}",
            f"--tls-private-key-file={credentials.serving_key}",
            f"--client-ca-file={credentials.ca_cert}",
            f"--service-account-key-file={credentials.service_account_public}",
            f"--service-account-signing-key-file={credentials.service_account_private}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--authorization-mode=RBAC",
            "--disable-admission-plugins=ServiceAccount",
            "--endpoint-reconciler-type=none",
        ])
        self.server = f"https://127.0.0.1:{apiserver_port}"
        self._write_kubeconfig(credentials)
        self._wait_ready(credentials)
        self._wait_serving()

        if self.assets.kube_controller_manager is not None:
            self._spawn("kube-controller-manager", [
                str(self.assets.kube_controller_manager),
                f"--kubeconfig={self.kubeconfig}",
                "--controllers=namespace,garbagecollector",
                "--leader-elect=false",
                "--secure-port=0",
                "--concurrent-namespace-syncs=5",
            ])

    def stop(self) -> None:
        # In reverse order of start, each gone before the next: the API server shuts down
        # cleanly only while etcd still answers.
        for name, process in reversed(self._processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._processes.clear()

    def env(self) -> dict[str, str]:
        """The environment for a process that should talk to this control plane."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this control plane and return what it printed."""
        result = subprocess.run(
            [str(self.assets.kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            input=input, capture_output=True, text=True, timeout=timeout,
        )
        if check and result.returncode != 0:
            raise KubectlError(result.returncode, result.args, result.stdout, result.stderr)
        return result

    def wait_established(self, *crds: str, timeout: float = START_TIMEOUT) -> None:
        """
        Wait until the CRDs (`crd/NAME`) are Established and their resources answer a list.

        Retried, not waited once: an API server that has just started may refuse the watch
        under `kubectl wait` (429, "storage is (re)initializing"), and a CRD just made is
        Established a moment before its storage serves.
        """
        deadline = time.monotonic() + timeout
        result = None
        while time.monotonic() < deadline:
            result = self.kubectl("wait", "--for=condition=Established", "--timeout=10s",
                                  *crds, check=False)
            if result.returncode == 0:
                resources = [crd.removeprefix("crd/") for crd in crds]  # plural.group
                if all(self.kubectl("get", resource, "--all-namespaces", check=False)
                       .returncode == 0 for resource in resources):
                    return
            time.sleep(0.2)
        said = (result.stderr or result.stdout).strip() if result else "nothing"
        raise ControlPlaneError(f"{', '.join(crds)} not served within {timeout:.0f}s: {said}")

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        log = open(self.workdir / "logs" / f"{name}.log", "wb")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        self._processes.append((name, process))

    def _write_kubeconfig(self, credentials: _Credentials) -> None:
        self.kubeconfig.write_text(
            "apiVersion: v1\n"
            "kind: Config\n"
            "clusters:\n"
            "- name: envtest\n"
            "  cluster:\n"
            f"    server: {self.server}\n"
            f"    certificate-authority: {credentials.ca_cert}\n"
            "users:\n"
            "- name: envtest-admin\n"
            "  user:\n"
            f"    client-certificate: {credentials.admin_cert}\n"
            f"    client-key: {credentials.admin_key}\n"
            "contexts:\n"
            "- name: envtest\n"
            "  context: {cluster: envtest, user: envtest-admin, namespace: default}\n"
            "current-context: envtest\n"
        )
        self.kubeconfig.chmod(0o600)

    def _wait_serving(self) -> None:
        # /readyz can pass while the watch caches still fill and answer 429 ("storage is
        # (re)initializing"); the first real lists show when they are done.
        deadline = time.monotonic() + START_TIMEOUT
        while self.kubectl("get", "customresourcedefinitions,namespaces,events",
                           "--all-namespaces", check=False).returncode != 0:
            if time.monotonic() > deadline:
                raise ControlPlaneError(f"kube-apiserver did not serve lists within "
                                        f"{START_TIMEOUT:.0f}s; see {self.workdir / 'logs'}.")
            time.sleep(0.2)

    def _wait_ready(self, credentials: _Credentials) -> None:
        context = ssl.create_default_context(cafile=str(credentials.ca_cert))
        context.load_cert_chain(str(credentials.admin_cert), str(credentials.admin_key))
        deadline = time.monotonic() + START_TIMEOUT
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            for name, process in self._processes:
                if process.poll() is not None:
                    raise ControlPlaneError(
                        f"{name} exited with code {process.returncode} while starting; "
                        f"see {self.workdir / 'logs' / (name + '.log')}."
                    )
            try:
                with urllib.request.urlopen(f"{self.server}/readyz", context=context,
                                            timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError as exc:
                last_error = str(exc)
            time.sleep(0.2)
        raise ControlPlaneError(
            f"kube-apiserver was not ready within {START_TIMEOUT:.0f}s ({last_error}); "
            f"see {self.workdir / 'logs'}."
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.envtest.controlplane",
                                     description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("assets", help="build or find the binaries and print where they are")
    up = commands.add_parser("up", help="start a control plane and keep it up until Ctrl-C")
    up.add_argument("--dir", type=Path, default=Path(".run/cluster"),
                    help="where its data, credentials, logs and kubeconfig go")
    args = parser.parse_args(argv)

    assets = Assets.locate()
    if args.command == "assets":
        for field in dataclasses.fields(assets):
            print(f"{field.name}: {getattr(assets, field.name)}")
        return 0

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with ControlPlane.started(args.dir.resolve(), assets=assets) as plane:
        print(f"Control plane ready at {plane.server}; export KUBECONFIG={plane.kubeconfig}",
              flush=True)
        try:
            while all(process.poll() is None for _, process in plane._processes):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
