"""The shapes of the ARNs the render writes into documents, so a malformed one (an inline comment
kept as part of the value, an account ID short of a digit, a target group without its ID) fails the
render instead of `aws ecs create-service` much later.

Only the shape is checked: whether the role or target group exists is for AWS to say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PARTITIONS = ("aws", "aws-cn", "aws-us-gov")

_PARTITION = "(?:" + "|".join(re.escape(partition) for partition in PARTITIONS) + ")"
# One ARN field left for the operator to fill, as the Compose file's <region> and <account-id>.
_OPEN_FIELD = r"<[a-z][a-z0-9._-]*>"
_REGION = rf"(?:[a-z]{{2}}(?:-[a-z]+)+-[0-9]{{1,2}}|{_OPEN_FIELD})"
_ACCOUNT = rf"(?:[0-9]{{12}}|{_OPEN_FIELD})"
# IAM names and path segments: letters, digits and + = , . @ _ - (a role name is 1-64 of them).
_IAM_CHARS = r"[A-Za-z0-9+=,.@_-]"
# ELBv2 names: 1-32 letters, digits and hyphens, not starting or ending with a hyphen.
_ELB_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
_WHERE = "PARTITION aws, aws-cn or aws-us-gov; ACCOUNT 12 digits"


@dataclass(frozen=True)
class ArnShape:
    kind: str  # what the ARN names, for messages: "an IAM role ARN"
    form: str  # its written form, for messages
    pattern: re.Pattern[str]

    def matches(self, value: str) -> bool:
        return self.pattern.fullmatch(value) is not None

    def expected(self) -> str:
        return f"{self.kind}, {self.form}"


IAM_ROLE = ArnShape(
    "an IAM role ARN",
    f"arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME ({_WHERE})",
    re.compile(rf"arn:{_PARTITION}:iam::{_ACCOUNT}:role/(?:{_IAM_CHARS}+/)*{_IAM_CHARS}{{1,64}}"),
)

TARGET_GROUP = ArnShape(
    "an ELBv2 target group ARN",
    f"arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:targetgroup/NAME/ID ({_WHERE}; ID 16 hex digits)",
    re.compile(rf"arn:{_PARTITION}:elasticloadbalancing:{_REGION}:{_ACCOUNT}:targetgroup/{_ELB_NAME}/[0-9a-f]{{16}}"),
)
