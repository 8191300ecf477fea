"""The ECS target's ARN shapes: IAM roles and target groups."""

from __future__ import annotations

import pytest

from devtools.deploy.targets.ecs import arns

ROLE = "arn:aws:iam::123456789012:role"


TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (f"{ROLE}/mlstack-app", True),
        ("arn:aws-cn:iam::123456789012:role/service-role/mlstack+ecs=exec,1.@_-", True),
        ("arn:aws-us-gov:iam::123456789012:role/a/b/c", True),
        ("arn:aws:iam::<account-id>:role/mlstack-app", True),  # a field left open, as the Compose file does
        (f"{ROLE}/" + "r" * 64, True),
        (f"{ROLE}/" + "r" * 65, False),  # role names are at most 64 characters
        ("arn:aws:iam::12345678901:role/mlstack-app", False),  # an 11-digit account
        (f"{ROLE}/mlstack-app            # no policies", False),  # the inline comment kept as a value
        (f"{ROLE}/mlstack-app#x", False),
        (f"{ROLE}/", False),
        ("arn:aws:iam::123456789012:user/mlstack-app", False),
        ("arn:aws:iam:eu-west-1:123456789012:role/mlstack-app", False),  # IAM ARNs have no region
        ("arn:aws-iso:iam::123456789012:role/mlstack-app", False),
        ("arn:aws:sts::123456789012:assumed-role/mlstack-app/session", False),
        (f" {ROLE}/mlstack-app", False),
    ],
)
def test_iam_role_arn_shape(value: str, ok: bool) -> None:
    assert arns.IAM_ROLE.matches(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (f"{TARGET_GROUP}/mlstack-serving/0123456789abcdef", True),
        ("arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:targetgroup/a/0123456789abcdef", True),
        ("arn:aws-cn:elasticloadbalancing:cn-north-1:123456789012:targetgroup/T1/fedcba9876543210", True),
        ("arn:aws:elasticloadbalancing:<region>:<account-id>:targetgroup/a/0123456789abcdef", True),
        (f"{TARGET_GROUP}/mlstack-serving", False),  # no ID
        (f"{TARGET_GROUP}/mlstack-serving/", False),
        (f"{TARGET_GROUP}/mlstack-serving/0123", False),
        (f"{TARGET_GROUP}/mlstack-serving/0123456789ABCDEG", False),
        (f"{TARGET_GROUP}/-serving/0123456789abcdef", False),
        (f"{TARGET_GROUP}/{'n' * 33}/0123456789abcdef", False),  # names are at most 32 characters
        (f"{TARGET_GROUP}/mlstack-serving/0123456789abcdef # serving", False),
        ("arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/0123456789abcdef", False),
        ("arn:aws:elasticloadbalancing::123456789012:targetgroup/x/0123456789abcdef", False),
        ("arn:aws:elasticloadbalancing:eu-west-1:1234:targetgroup/x/0123456789abcdef", False),
        (f"{ROLE}/mlstack-app", False),
    ],
)
def test_target_group_arn_shape(value: str, ok: bool) -> None:
    assert arns.TARGET_GROUP.matches(value) is ok
