"""
The operator's own writes to Kubernetes: a resource's status and annotations, read back fresh.

kopf owns the watch, the finalizer and events; these few calls go through the official client
in a small thread pool, since that client is synchronous.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import kopf
import kubernetes

from orgo_operator import GROUP, PLURAL, VERSION

KUBE_THREADS = 8

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
        """In a pod, the pod's service account; elsewhere, the kubeconfig (KUBECONFIG)."""
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        except kubernetes.config.ConfigException:
            kubernetes.config.load_kube_config(client_configuration=configuration)
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
