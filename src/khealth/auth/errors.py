"""OAuth errors as values (RFC 6749 §5.2, §4.1.2.1): the web layer renders them as a JSON
error body, a redirect with ``error=`` and ``state``, or a page."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(eq=False)
class OAuthError(Exception):
    error: str  # invalid_request, invalid_client, invalid_grant, unauthorized_client, ...
    description: str
    status: int = 400
    redirect: bool = True  # False: the redirect URI itself is not trusted; show a page

    def __post_init__(self) -> None:
        super().__init__(f"{self.error}: {self.description}")

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def invalid_grant(description: str) -> OAuthError:
    return OAuthError("invalid_grant", description)


def invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, 401)


class RateLimited(Exception):
    """Too many attempts: answered with 429 and ``Retry-After``."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many attempts")
        self.retry_after = retry_after
