"""The ECS, ELB, Application Auto Scaling and AWS Batch request documents for one workload.

A job with GPUs (x-deploy.gpus) cannot run on Fargate, which has none: its task definition is for EC2
capacity (GPU resource requirements), and `<job>.run-task.json` runs it on the GPU instances' capacity
provider. A job over several nodes (x-deploy.nodes) gets an AWS Batch multi-node parallel job definition,
`<job>.job-definition.json`: Batch starts the nodes together and tells each where the main node is
(the training CLI reads AWS_BATCH_JOB_* for --nnodes and its rendezvous). deploy/README.md: which when.
"""

from __future__ import annotations

import re
from typing import Any

from contract.gpus import ALL_GPUS

from devtools.deploy.targets.ecs.documents import Document
from devtools.deploy.targets.ecs.settings import Settings, placeholder
from devtools.deploy.targets.ecs.workload import EcsWorkload
from devtools.deploy.workload import Kind

# ALB target group probe: frequent enough to take a task out within ~30 s of losing readiness.
_TARGET_HEALTH = {"interval": 10, "timeout": 5, "healthy": 2, "unhealthy": 3}
_TARGET_GROUP_NAME_MAX = 32


def documents(workload: EcsWorkload, settings: Settings) -> list[Document]:
    name = workload.name
    docs = [
        Document(f"{name}.task-definition.json", "ecs", "RegisterTaskDefinition", task_definition(workload, settings))
    ]
    if workload.kind is not Kind.SERVICE:
        if workload.gpus:
            docs.append(Document(f"{name}.run-task.json", "ecs", "RunTask", gpu_run_task(workload, settings)))
        if workload.nodes > 1:
            docs.append(
                Document(
                    f"{name}.job-definition.json", "batch", "RegisterJobDefinition", job_definition(workload, settings)
                )
            )
        return docs
    docs.append(Document(f"{name}.service.json", "ecs", "CreateService", create_service(workload, settings)))
    if workload.load_balancer_port is not None:
        docs.append(
            Document(f"{name}.target-group.json", "elbv2", "CreateTargetGroup", target_group(workload, settings))
        )
    if workload.autoscaling is not None:
        docs.append(
            Document(
                f"{name}.scalable-target.json",
                "application-autoscaling",
                "RegisterScalableTarget",
                scalable_target(workload, settings),
            )
        )
        docs.append(
            Document(
                f"{name}.scaling-policy.json",
                "application-autoscaling",
                "PutScalingPolicy",
                scaling_policy(workload, settings),
            )
        )
    return docs


def family(workload: EcsWorkload, settings: Settings) -> str:
    return f"{settings.project}-{workload.name}"


def image_reference(repository: str, settings: Settings) -> str:
    """`<registry>/<repository>:<tag>`; --registry replaces a registry host already in the Compose image.
    With a release (`--release`), the released reference by digest."""
    if repository in settings.images:
        return settings.images[repository]
    first, _, rest = repository.partition("/")
    has_host = bool(rest) and ("." in first or ":" in first or first == "localhost")
    if settings.registry:
        return f"{settings.registry}/{rest if has_host else repository}:{settings.tag}"
    if has_host:
        return f"{repository}:{settings.tag}"
    return f"{placeholder('registry')}/{repository}:{settings.tag}"


def volume_names(paths: tuple[str, ...]) -> dict[str, str]:
    """A task volume name per writable path: /cache -> cache, /var/lib/x -> var-lib-x (made unique)."""
    names: dict[str, str] = {}
    for path in paths:
        base = re.sub(r"[^A-Za-z0-9_-]+", "-", path.strip("/")) or "root"
        name, number = base, 2
        while name in names.values():
            name, number = f"{base}-{number}", number + 1
        names[path] = name
    return names


def log_group(workload: EcsWorkload, settings: Settings) -> str:
    return f"/ecs/{settings.project}/{workload.name}"


def task_definition(workload: EcsWorkload, settings: Settings) -> dict[str, Any]:
    volumes = volume_names(workload.writable_paths)
    container: dict[str, Any] = {
        "name": workload.name,
        "image": image_reference(workload.repository, settings),
        "essential": True,
        "user": workload.user,
        "readonlyRootFilesystem": True,
    }
    if workload.entrypoint is not None:
        container["entryPoint"] = list(workload.entrypoint)
    if workload.command is not None:
        container["command"] = list(workload.command)
    if workload.working_dir:
        container["workingDirectory"] = workload.working_dir
    if workload.ports:
        container["portMappings"] = [
            {
                "name": f"{workload.name}-{port.container_port}",
                "containerPort": port.container_port,
                "protocol": port.protocol,
            }
            for port in workload.ports
        ]
    container["environment"] = [{"name": key, "value": value} for key, value in workload.environment.items()]
    if workload.secrets:
        container["secrets"] = [{"name": key, "valueFrom": ref} for key, ref in workload.secrets.items()]
    if workload.health is not None:
        container["healthCheck"] = {
            "command": list(workload.health.command),
            "interval": workload.health.interval,
            "timeout": workload.health.timeout,
            "retries": workload.health.retries,
            "startPeriod": workload.health.start_period,
        }
    container["stopTimeout"] = workload.stop_timeout
    container["mountPoints"] = [
        {"sourceVolume": name, "containerPath": path, "readOnly": False} for path, name in volumes.items()
    ]
    # The apps run as a non-root user and need no Linux capabilities at all.
    linux: dict[str, Any] = {"capabilities": {"drop": ["ALL"]}}
    if workload.init:
        linux["initProcessEnabled"] = True
    container["linuxParameters"] = linux
    container["logConfiguration"] = {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": log_group(workload, settings),
            "awslogs-region": settings.region,
            "awslogs-stream-prefix": settings.project,
        },
    }
    if workload.gpus:
        container["resourceRequirements"] = [{"type": "GPU", "value": str(workload.gpus)}]
    task: dict[str, Any] = {
        "family": family(workload, settings),
        "taskRoleArn": settings.task_role_arn(workload.name, workload.task_role_arn),
        "executionRoleArn": settings.execution_role_arn,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["EC2"] if workload.on_ec2 else ["FARGATE"],
        "cpu": str(workload.cpu),
        "memory": str(workload.memory),
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": settings.arch.ecs},
        "containerDefinitions": [container],
        # A volume with a name only is a bind mount on the task's ephemeral storage.
        "volumes": [{"name": name} for name in volumes.values()],
        "tags": _tags(settings),
    }
    if workload.ephemeral_storage_gib is not None and not workload.on_ec2:  # Fargate's task storage only
        task["ephemeralStorage"] = {"sizeInGiB": workload.ephemeral_storage_gib}
    return task


def _awsvpc(settings: Settings) -> dict[str, Any]:
    return {
        "awsvpcConfiguration": {
            "subnets": list(settings.subnets),
            "securityGroups": list(settings.security_groups),
            "assignPublicIp": "DISABLED",
        }
    }


def gpu_run_task(workload: EcsWorkload, settings: Settings) -> dict[str, Any]:
    """`aws ecs run-task` for a GPU job: on the EC2 GPU instances' capacity provider (an Auto Scaling
    group of the ECS GPU-optimized AMI), one process per GPU of the instance (torchrun-style DDP)."""
    return {
        "cluster": settings.cluster,
        "taskDefinition": family(workload, settings),
        "count": 1,
        "capacityProviderStrategy": [
            {"capacityProvider": workload.capacity_provider or placeholder("gpu-capacity-provider"), "weight": 1}
        ],
        "networkConfiguration": _awsvpc(settings),
        "overrides": {
            "containerOverrides": [
                {"name": workload.name, "command": ["train", "--nproc-per-node", ALL_GPUS, "--device", "cuda"]}
            ]
        },
        "enableECSManagedTags": True,
        "propagateTags": "TASK_DEFINITION",
        "tags": _tags(settings),
    }


def job_definition(workload: EcsWorkload, settings: Settings) -> dict[str, Any]:
    """An AWS Batch multi-node parallel job: `nodes` instances with `gpus` GPUs each (or CPU), the same
    container on every node, one job over all of them. Batch starts the nodes together and gives each
    AWS_BATCH_JOB_NUM_NODES, its index and the main node's address, which the training CLI takes as
    --nnodes, --node-rank and --rdzv-endpoint: no per-node command."""
    task = task_definition(workload, settings)
    container = task["containerDefinitions"][0]
    resources = [
        {"type": "VCPU", "value": str(max(1, workload.cpu // 1024))},
        {"type": "MEMORY", "value": str(workload.memory)},
    ]
    if workload.gpus:
        resources.append({"type": "GPU", "value": str(workload.gpus)})
    processes = ["--nproc-per-node", ALL_GPUS, "--device", "cuda"] if workload.gpus else []
    properties: dict[str, Any] = {
        "image": container["image"],
        "command": ["train", *processes],
        "jobRoleArn": task["taskRoleArn"],
        "executionRoleArn": task["executionRoleArn"],
        "resourceRequirements": resources,
        "environment": container["environment"],
        "readonlyRootFilesystem": True,
        "user": workload.user,
        "linuxParameters": {"initProcessEnabled": workload.init},
        "logConfiguration": container["logConfiguration"],
        "volumes": [{"name": volume["name"]} for volume in task["volumes"]],
        "mountPoints": container["mountPoints"],
    }
    if "secrets" in container:
        properties["secrets"] = container["secrets"]
    return {
        "jobDefinitionName": family(workload, settings),
        "type": "multinode",
        "platformCapabilities": ["EC2"],
        "nodeProperties": {
            "numNodes": workload.nodes,
            "mainNode": 0,
            "nodeRangeProperties": [{"targetNodes": "0:", "container": properties}],
        },
        # A lost node fails the job (the training job itself never retries half a job).
        "retryStrategy": {"attempts": 1},
        "propagateTags": True,
        "tags": {tag["key"]: tag["value"] for tag in _tags(settings)},
    }


def create_service(workload: EcsWorkload, settings: Settings) -> dict[str, Any]:
    service: dict[str, Any] = {
        "cluster": settings.cluster,
        "serviceName": workload.name,
        # The family alone: ECS takes its latest ACTIVE revision, the one just registered.
        "taskDefinition": family(workload, settings),
        "desiredCount": workload.desired_count,
        "launchType": "FARGATE",
        "platformVersion": "LATEST",
        "schedulingStrategy": "REPLICA",
        "deploymentController": {"type": "ECS"},
        # New tasks start before old ones stop; a deployment that never gets healthy rolls back.
        "deploymentConfiguration": {
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
        },
        "networkConfiguration": _awsvpc(settings),
    }
    if workload.load_balancer_port is not None:
        service["loadBalancers"] = [
            {
                "targetGroupArn": settings.target_group_arn(workload.name),
                "containerName": workload.name,
                "containerPort": workload.load_balancer_port,
            }
        ]
        service["healthCheckGracePeriodSeconds"] = workload.health_check_grace_period
    service["propagateTags"] = "SERVICE"
    service["enableECSManagedTags"] = True
    service["tags"] = _tags(settings)
    return service


def target_group_name(workload: EcsWorkload, settings: Settings) -> str:
    name = re.sub(r"[^A-Za-z0-9-]+", "-", f"{settings.project}-{workload.name}")
    return name[:_TARGET_GROUP_NAME_MAX].strip("-")


def target_group(workload: EcsWorkload, settings: Settings) -> dict[str, Any]:
    """IP targets (awsvpc), probed on the Compose healthcheck's path: readiness, so a task that has
    no model loaded gets no traffic, while the container health check can stay liveness."""
    return {
        "Name": target_group_name(workload, settings),
        "Protocol": "HTTP",
        "Port": workload.load_balancer_port,
        "VpcId": settings.vpc_id,
        "TargetType": "ip",
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": "HTTP",
        "HealthCheckPort": "traffic-port",
        "HealthCheckPath": workload.readiness_path or "/",
        "HealthCheckIntervalSeconds": _TARGET_HEALTH["interval"],
        "HealthCheckTimeoutSeconds": _TARGET_HEALTH["timeout"],
        "HealthyThresholdCount": _TARGET_HEALTH["healthy"],
        "UnhealthyThresholdCount": _TARGET_HEALTH["unhealthy"],
        "Matcher": {"HttpCode": "200"},
        "Tags": [{"Key": "project", "Value": settings.project}],
    }


def _scaling_target_ids(workload: EcsWorkload, settings: Settings) -> dict[str, str]:
    return {
        "ServiceNamespace": "ecs",
        "ResourceId": f"service/{settings.cluster}/{workload.name}",
        "ScalableDimension": "ecs:service:DesiredCount",
    }


def scalable_target(workload: EcsWorkload, settings: Settings) -> dict[str, Any]:
    assert workload.autoscaling is not None
    return {
        **_scaling_target_ids(workload, settings),
        "MinCapacity": workload.autoscaling.min_capacity,
        "MaxCapacity": workload.autoscaling.max_capacity,
    }


def scaling_policy(workload: EcsWorkload, settings: Settings) -> dict[str, Any]:
    scaling = workload.autoscaling
    assert scaling is not None
    metric: dict[str, Any]
    if scaling.metric == "cpu":
        metric = {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
    else:
        metric = {
            "PredefinedMetricType": "ALBRequestCountPerTarget",
            # app/<alb-name>/<alb-id>/targetgroup/<tg-name>/<tg-id>, from the two ARNs.
            "ResourceLabel": scaling.resource_label or placeholder(f"alb-resource-label:{workload.name}"),
        }
    return {
        "PolicyName": f"{workload.name}-{scaling.metric}-target-tracking",
        **_scaling_target_ids(workload, settings),
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": scaling.target,
            "PredefinedMetricSpecification": metric,
            "ScaleOutCooldown": scaling.scale_out_cooldown,
            "ScaleInCooldown": scaling.scale_in_cooldown,
            "DisableScaleIn": False,
        },
    }


def _tags(settings: Settings) -> list[dict[str, str]]:
    return [{"key": "project", "value": settings.project}, {"key": "image-tag", "value": settings.tag}]
