"""Deployment documents rendered from the prod Compose file (`devtools deploy render ecs`).

Nothing here talks to AWS: documents are rendered, validated offline against botocore's bundled
service models, and written as `--cli-input-json` files for the operator to apply.
"""
