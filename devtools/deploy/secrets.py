"""What counts as a secret, whatever the target.

Deployment documents are readable by whoever may read the deployment (and end up in audit logs), so a
secret must reach the container as a reference to a secret store, never as an environment value; what
such a reference looks like is the target's to say (devtools.deploy.targets).
"""

from __future__ import annotations

import re

SECRET_NAME_WORDS = ("PASSWORD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")

# scheme://user:password@host — the password part is what makes the value a secret.
_URI_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s:]*:[^/?#@\s]+@", re.IGNORECASE)


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
