"""Every AWS call devtools makes goes through `Aws`: boto3 clients for one region and endpoint, and
the one place botocore's errors become one-line DevtoolsErrors.

boto3 is imported when the first client is made, through importlib as validate.py imports botocore:
`devtools --help` never pays for it and mypy needs no stubs for it. Credentials, profile and
endpoint come from boto3's own chain (AWS_PROFILE, AWS_ACCESS_KEY_ID, ~/.aws, SSO, an instance
role; AWS_ENDPOINT_URL), so the operator's `aws` setup works as it is.
"""

from __future__ import annotations

import html
import importlib
import math
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from devtools.errors import DevtoolsError, ExitCode

# The IAM prefix of each botocore service, so a refusal names the permission to grant.
_IAM_PREFIX = {
    "ecs": "ecs",
    "elbv2": "elasticloadbalancing",
    "application-autoscaling": "application-autoscaling",
    "logs": "logs",
    "s3": "s3",
}
# Error codes that mean "who you are may not do this", as opposed to "this request is wrong".
_REFUSALS = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "AuthFailure",
    }
)
# DescribeServices (and the services_stable waiter, which calls it) takes at most 10 services.
_DESCRIBE_SERVICES_MAX = 10
# Of an error body botocore could not parse, this much is shown.
_BODY_SHOWN = 200
# The services_stable waiter's own poll interval; shorter only for a short --wait-timeout.
_WAIT_DELAY_MAX_S = 15


def action(service: str, operation: str) -> str:
    """`ecs:RegisterTaskDefinition`: the IAM action, which is also how the AWS docs name the call."""
    return f"{_IAM_PREFIX.get(service, service)}:{operation}"


def default_region() -> str | None:
    """The region boto3's chain gives (AWS_REGION, AWS_DEFAULT_REGION, the profile), if any."""
    try:
        region: str | None = _module("boto3.session").Session().region_name
    except _errors() as exc:
        raise translate(exc, "reading the AWS configuration") from None
    return region


class Aws:
    """Clients for one region (and optionally one endpoint, for LocalStack or moto)."""

    def __init__(
        self, *, region: str, endpoint_url: str | None = None, credentials: tuple[str, str] | None = None
    ) -> None:
        """`credentials` (key id, secret) replace boto3's chain: for a local stand-in, never for AWS."""
        self.region = region
        self.endpoint_url = endpoint_url
        keys = {"aws_access_key_id": credentials[0], "aws_secret_access_key": credentials[1]} if credentials else {}
        try:
            self._session = _module("boto3.session").Session(region_name=region, **keys)
        except _errors() as exc:
            raise translate(exc, "reading the AWS configuration") from None
        self._clients: dict[str, Any] = {}

    def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """One API call by its operation name (`RegisterTaskDefinition`); the response without metadata.
        (Positional-only: UpdateService has a `service` parameter of its own.)"""
        try:
            return self._invoke(service, operation, params)
        except _errors() as exc:
            raise translate(exc, action(service, operation)) from None

    def find(self, service: str, operation: str, /, *, absent: str, **params: Any) -> dict[str, Any] | None:
        """`call`, or None where AWS answers with the error code `absent` (TargetGroupNotFound)."""
        try:
            return self._invoke(service, operation, params)
        except _errors() as exc:
            if getattr(exc, "response", {}).get("Error", {}).get("Code") == absent:
                return None
            raise translate(exc, action(service, operation)) from None

    def items(self, service: str, operation: str, key: str, /, **params: Any) -> Iterator[Any]:
        """Every `key` item of every page of a paginated call."""
        try:
            paginator = self._client(service).get_paginator(_method(operation))
            for page in paginator.paginate(**params):
                yield from page.get(key, [])
        except _errors() as exc:
            raise translate(exc, action(service, operation)) from None

    def services_stable(self, cluster: str, services: Sequence[str], *, timeout_s: int) -> str | None:
        """Waits with boto3's `services_stable` waiter (one deployment each, as many tasks running as
        desired). None once all are; "" when the time is up; else the waiter's reason (a service
        missing or draining)."""
        deadline = time.monotonic() + timeout_s
        delay = max(1, min(_WAIT_DELAY_MAX_S, timeout_s // 10))
        errors = _module("botocore.exceptions")
        for start in range(0, len(services), _DESCRIBE_SERVICES_MAX):
            batch = list(services[start : start + _DESCRIBE_SERVICES_MAX])
            left = max(1.0, deadline - time.monotonic())
            # The waiter polls once, then once per delay: attempts that span the time left.
            config = {"Delay": delay, "MaxAttempts": math.ceil(left / delay) + 1}
            try:
                self._client("ecs").get_waiter("services_stable").wait(
                    cluster=cluster, services=batch, WaiterConfig=config
                )
            except errors.WaiterError as exc:
                last = exc.last_response or {}
                if last.get("Error"):  # DescribeServices itself failed (a refusal, say): not a stability problem
                    raise _client_error(last, action("ecs", "DescribeServices")) from None
                reason = str(exc.kwargs.get("reason") or exc)
                return "" if reason == "Max attempts exceeded" else reason
            except _errors() as exc:
                raise translate(exc, action("ecs", "DescribeServices")) from None
        return None

    def _invoke(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = getattr(self._client(service), _method(operation))(**params)
        response.pop("ResponseMetadata", None)
        return response

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            config = _module("botocore.config").Config(user_agent_extra="devtools-deploy")
            self._clients[service] = self._session.client(service, endpoint_url=self.endpoint_url, config=config)
        return self._clients[service]


def translate(exc: Exception, doing: str) -> DevtoolsError:
    """A botocore error as the one line the operator sees."""
    errors = _module("botocore.exceptions")
    if isinstance(exc, errors.ClientError):
        return _client_error(exc.response, doing)
    if isinstance(exc, errors.NoCredentialsError):
        return DevtoolsError(
            f"{doing}: no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            "(the chain the aws CLI uses)",
            ExitCode.FAILURE,
        )
    if isinstance(exc, (errors.ConnectionError, errors.HTTPClientError)):
        return DevtoolsError(f"cannot reach AWS for {doing}: {_one_line(str(exc))}", ExitCode.FAILURE)
    return DevtoolsError(f"{doing}: {_one_line(str(exc))}", ExitCode.FAILURE)


def _client_error(response: Mapping[str, Any], doing: str) -> DevtoolsError:
    error = response.get("Error", {})
    code, message = str(error.get("Code", "")), _one_line(str(error.get("Message", "")))
    if code.isdigit():
        # botocore could not parse the error body and gives the HTTP status as its code: a proxy's
        # page, or moto's XML refusal for a JSON API. Take a code and message from XML if it is that.
        code, message = _from_unparsed_body(code, message)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _REFUSALS or status in (401, 403):
        return DevtoolsError(f"AWS refused {doing}: {code}: {message or 'no message'}", ExitCode.FAILURE)
    return DevtoolsError(f"{doing} failed: {code}: {message or 'no message'}", ExitCode.FAILURE)


def _from_unparsed_body(status: str, body: str) -> tuple[str, str]:
    code = re.search(r"<Code>([^<]*)</Code>", body)
    message = re.search(r"<Message>([^<]*)</Message>", body)
    if code:
        return html.unescape(code.group(1)), html.unescape(message.group(1)) if message else ""
    snippet = body if len(body) <= _BODY_SHOWN else body[:_BODY_SHOWN] + "..."
    return f"HTTP {status}", snippet


def _errors() -> tuple[type[Exception], ...]:
    """What botocore raises: ClientError for an AWS answer, BotoCoreError for everything before one."""
    errors = _module("botocore.exceptions")
    return (errors.ClientError, errors.BotoCoreError)


def _method(operation: str) -> str:
    """`RegisterTaskDefinition` -> `register_task_definition`, as boto3 names client methods."""
    return str(_module("botocore").xform_name(operation))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise DevtoolsError(
            "boto3 is needed to apply ECS documents: pip install 'boto3>=1.44,<2'", ExitCode.FAILURE
        ) from None
