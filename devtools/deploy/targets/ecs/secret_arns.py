"""What a secret reference is on ECS: a Secrets Manager secret or SSM Parameter Store parameter ARN.

ECS task definitions are readable by anyone with ecs:DescribeTaskDefinition and end up in CloudTrail,
so a secret reaches the container through the task definition's `secrets`, which name such an ARN.
"""

from __future__ import annotations

import re

# Secrets Manager (arn:...:secretsmanager:region:account:secret:name[:json-key:stage:version])
# or SSM Parameter Store (arn:...:ssm:region:account:parameter/name). Region and account may be
# <placeholders>; plaintext can never match.
_SECRET_REFERENCE = re.compile(r"arn:aws[a-z-]*:(secretsmanager|ssm):[^:\s]*:[^:\s]*:(secret:|parameter/)\S+")


def is_secret_reference(value: str) -> bool:
    return _SECRET_REFERENCE.fullmatch(value) is not None
