"""What can go wrong when talking to Orgo, sorted by what the caller does about it."""
from __future__ import annotations


class OrgoError(Exception):
    """Any failure of a call to the Orgo API."""

    def __init__(self, message: str, *, endpoint: str) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint


class OrgoAPIError(OrgoError):
    """Orgo answered with an error status and, usually, a JSON error body."""

    def __init__(
            self,
            message: str,
            *,
            endpoint: str,
            status_code: int,
            request_id: str | None = None,
            code: str | None = None,
            retry_after: float | None = None,
    ) -> None:
        super().__init__(message, endpoint=endpoint)
        self.status_code = status_code
        self.request_id = request_id
        self.code = code
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"Orgo answered {self.status_code} to {self.endpoint}: {self.message}"


class OrgoTransportError(OrgoError):
    """No answer: the connection was refused or dropped, or the request timed out."""

    def __str__(self) -> str:
        return f"Orgo did not answer {self.endpoint}: {self.message}"


class OrgoResponseError(OrgoError):
    """Orgo answered with success, but with a body that is not the expected JSON."""

    def __str__(self) -> str:
        return f"Orgo sent an unreadable answer to {self.endpoint}: {self.message}"
