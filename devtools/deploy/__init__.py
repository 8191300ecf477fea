"""Production on AWS ECS: documents rendered from the prod Compose file, and applied.

`deploy render ecs` renders and validates offline (botocore's bundled service models) and writes
`--cli-input-json` files; nothing in the render talks to AWS. `deploy apply` applies those files
through boto3 (aws.py is the one place AWS calls go through), idempotently.
"""
