"""The ECS target: Fargate services and run-task jobs (EC2 GPU capacity and AWS Batch for GPU and
multi-node jobs), documents validated offline against botocore's models, applied with boto3, and run
on this engine with AWS's stand-ins. deploy/README.md.

    commands.py        `deploy render ecs`, `deploy apply`, `deploy run-local` (the CLI's options)
    workload.py        the neutral workload under ECS's rules, plus `x-ecs` (task role, ephemeral
                       storage, grace period, GPU capacity provider)
    settings.py        account values (registry, roles, network): options, DEVTOOLS_ECS_*, --env-file
    arch.py arns.py fargate.py secret_arns.py   ECS's CPU architectures, ARN shapes, task sizes, secrets
    aws_documents.py   the ECS, ELB, Application Auto Scaling and Batch request documents per workload
    documents.py       a rendered request document and writing it; validate.py: botocore's models
    render.py          Compose config -> validated documents on disk
    bundle.py          documents read back, grouped by workload; compare.py: described vs wanted
    aws.py             every AWS call (boto3 clients, one-line errors); apply.py: documents -> AWS
    local_compose.py   task definitions -> a Compose project (pure); run_local.py: run it to healthy
"""
