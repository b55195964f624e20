"""
Fixtures for the install tests. They get a control plane of their own: the chart makes
cluster-wide objects and runs operators that watch every namespace, which must not meet the
resources of the other tests' operators on the shared one.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cluster
from tests.deploy import install


@pytest.fixture(scope="session")
def deploy_plane(workdir: Path) -> Iterator[Any]:
    from tests.envtest.controlplane import ControlPlane

    with ControlPlane.started(workdir / "deploy-cluster") as plane:
        yield plane


@pytest.fixture
def release_namespace(deploy_plane: Any) -> Iterator[str]:
    """A namespace for one install, held to the restricted Pod Security Standard."""
    name = f"orgo-{uuid.uuid4().hex[:8]}"
    install.create_namespace(deploy_plane, name)
    yield name
    deploy_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def fresh_namespace(plane: Any, prefix: str) -> Cluster:
    """A namespace for OrgoComputers, left for the test's end to delete."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    plane.kubectl("create", "namespace", name)
    return Cluster(plane, name)
