"""The ECS target's secret references: Secrets Manager and SSM parameter ARNs only."""

from __future__ import annotations

import pytest

from devtools.deploy.targets.ecs.secret_arns import is_secret_reference


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:mlstack/db-AbCdEf", True),
        ("arn:aws:secretsmanager:eu-west-1:123456789012:secret:mlstack/db:password::", True),
        ("arn:aws:ssm:eu-west-1:123456789012:parameter/mlstack/db", True),
        ("arn:aws-us-gov:ssm:us-gov-west-1:123456789012:parameter/x", True),
        ("arn:aws:secretsmanager:<region>:<account-id>:secret:mlstack/db", True),
        ("postgresql://u:p@h/db", False),
        ("hunter2", False),
        ("arn:aws:s3:::bucket", False),
        ("", False),
    ],
)
def test_secret_references(value: str, ok: bool) -> None:
    assert is_secret_reference(value) is ok
