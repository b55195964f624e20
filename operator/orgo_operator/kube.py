"""
The operator's own writes to Kubernetes: a resource's status and annotations, read back fresh.

kopf owns the watch, the finalizer and events; these few calls go through the official client
in a small thread pool, since that client is synchronous.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import kopf
import kubernetes
import yaml

from orgo_operator import GROUP, PLURAL, VERSION

KUBE_THREADS = 8

# Kubernetes sets this in every container; outside a pod, the kubeconfig is the way in.
IN_CLUSTER_VARIABLE = "KUBERNETES_SERVICE_HOST"
# Where kubectl looks when KUBECONFIG is not set.
DEFAULT_KUBECONFIG = "~/.kube/config"
# A malformed kubeconfig fails with whatever its loader trips over, not only ConfigException.
CONFIG_ERRORS = (kubernetes.config.ConfigException, OSError, yaml.YAMLError,
                 KeyError, TypeError, ValueError, AttributeError)

T = TypeVar("T")


class ResourceGone(Exception):
    """The resource was deleted from the API server while the operator worked on it."""


class KubeApi:
    """Reads and patches OrgoComputer objects for every resource of one operator."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self._api = kubernetes.client.CustomObjectsApi(api_client)
        self._api_client = api_client
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=KUBE_THREADS, thread_name_prefix="kube")

    @classmethod
    def from_environment(cls) -> KubeApi:
        """
        In a pod, the pod's service account; elsewhere, the kubeconfig (KUBECONFIG).

        Without either, a `kopf.PermanentError` that names what was tried and why it failed:
        retrying would not make a missing file appear.
        """
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        except CONFIG_ERRORS as exc:
            in_cluster_error = _one_line(exc)
        else:
            return cls(kubernetes.client.ApiClient(configuration))

        # Read now, not when the kubernetes package was imported, so that the file named in an
        # error is the file that was read.
        kubeconfig = os.environ.get("KUBECONFIG")
        try:
            kubernetes.config.load_kube_config(config_file=kubeconfig or DEFAULT_KUBECONFIG,
                                               client_configuration=configuration)
        except CONFIG_ERRORS as exc:
            where = (f"KUBECONFIG={kubeconfig!r}" if kubeconfig
                     else f"{DEFAULT_KUBECONFIG} (KUBECONFIG is not set)")

            # In a pod the service account was meant to work, so its failure leads the message.
            if os.environ.get(IN_CLUSTER_VARIABLE):
                raise kopf.PermanentError(
                    f"Cannot use the pod's service account ({in_cluster_error}) nor the "
                    f"kubeconfig from {where} ({_one_line(exc)}). Mount the service account's "
                    "token into the pod, or set KUBECONFIG to a readable kubeconfig file."
                ) from None
            raise kopf.PermanentError(
                f"Cannot load the kubeconfig from {where}: {_one_line(exc)} Set KUBECONFIG to "
                "a readable kubeconfig file, or run the operator in a pod with a service account."
            ) from None
        return cls(kubernetes.client.ApiClient(configuration))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._api_client.close()

    def resource(self, *, namespace: str, name: str, body: kopf.Body) -> KubeResource:
        return KubeResource(api=self, namespace=namespace, name=name, body=body)

    async def read(self, *, namespace: str, name: str) -> Mapping[str, Any] | None:
        """The object as stored now, or None when it is gone."""
        try:
            return await self._call(self._api.get_namespaced_custom_object,
                                    GROUP, VERSION, namespace, PLURAL, name)
        except ResourceGone:
            return None

    async def patch(self, *, namespace: str, name: str, body: Mapping[str, Any],
                    status: bool = False) -> Mapping[str, Any]:
        method = (self._api.patch_namespaced_custom_object_status if status
                  else self._api.patch_namespaced_custom_object)
        return await self._call(method, GROUP, VERSION, namespace, PLURAL, name, dict(body))

    async def _call(self, method: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, functools.partial(method, *args))
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                raise ResourceGone(f"{args[2]}/{args[4]} is gone") from None
            raise


class KubeResource:
    """One OrgoComputer, as the reconciler writes to it."""

    def __init__(self, *, api: KubeApi, namespace: str, name: str, body: kopf.Body) -> None:
        self._api = api
        self._namespace = namespace
        self._name = name
        self._body = body

    def __repr__(self) -> str:
        return f"KubeResource({self._namespace}/{self._name})"

    async def patch_status(self, patch: Mapping[str, Any]) -> Mapping[str, Any]:
        stored = await self._api.patch(namespace=self._namespace, name=self._name,
                                       body={"status": dict(patch)}, status=True)
        return stored.get("status") or {}

    async def annotate(self, annotations: Mapping[str, str | None]) -> None:
        await self._api.patch(namespace=self._namespace, name=self._name,
                              body={"metadata": {"annotations": dict(annotations)}})

    def event(self, kind: str, reason: str, message: str) -> None:
        kopf.event(self._body, type=kind, reason=reason, message=message)


def _one_line(exc: BaseException) -> str:
    # YAML errors span lines with their marks; a start-up failure should read as one line.
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if text.endswith(".") else f"{text}."
