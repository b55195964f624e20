"""The Orgo API as the operator sees it: an async client, its data and its errors."""

from orgo_operator.orgo.client import OrgoClient
from orgo_operator.orgo.errors import (
    OrgoAPIError,
    OrgoError,
    OrgoResponseError,
    OrgoTransportError,
)
from orgo_operator.orgo.models import Computer, Workspace

__all__ = [
    "Computer",
    "OrgoAPIError",
    "OrgoClient",
    "OrgoError",
    "OrgoResponseError",
    "OrgoTransportError",
    "Workspace",
]
