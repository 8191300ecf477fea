"""What counts as a secret, and what counts as a reference to one.

ECS task definitions are readable by anyone with ecs:DescribeTaskDefinition and end up in
CloudTrail, so a secret must reach the container as a `secrets` reference, never as `environment`.
"""

from __future__ import annotations

import re

SECRET_NAME_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")

# scheme://user:password@host — the password part is what makes the value a secret.
_URI_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s:]*:[^/?#@\s]+@", re.IGNORECASE)

# Secrets Manager (arn:...:secretsmanager:region:account:secret:name[:json-key:stage:version])
# or SSM Parameter Store (arn:...:ssm:region:account:parameter/name). Region and account may be
# <placeholders>; plaintext can never match.
_SECRET_REFERENCE = re.compile(r"arn:aws[a-z-]*:(secretsmanager|ssm):[^:\s]*:[^:\s]*:(secret:|parameter/)\S+")


def secret_reason(name: str, value: str) -> str | None:
    """Why an environment variable must be a secret reference, or None when it may stay plaintext."""
    upper = name.upper()
    for word in SECRET_NAME_WORDS:
        if word in upper:
            return f"its name contains {word}"
    if _URI_WITH_PASSWORD.search(value):
        return "its value is a URI with a password"
    return None


def has_uri_password(value: str) -> bool:
    return _URI_WITH_PASSWORD.search(value) is not None


def is_secret_reference(value: str) -> bool:
    return _SECRET_REFERENCE.fullmatch(value) is not None
