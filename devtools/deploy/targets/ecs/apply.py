"""`devtools deploy apply`: the rendered documents -> AWS, writing only what differs.

The steps follow the order the resources depend on (deploy/README.md, Apply): log groups, task
definitions, target groups, services, scalable targets and scaling policies, then the wait for
stable services. Every step reads before it writes, so an apply with nothing changed makes no write
call at all. Each resource is reported the moment it is done: when a later step fails, the lines
above the error are exactly what was applied.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools.deploy.targets.ecs import bundle as bundles
from devtools.deploy.targets.ecs.aws import Aws, default_region
from devtools.deploy.targets.ecs.bundle import Bundle, Workload
from devtools.deploy.targets.ecs.compare import differing_fields
from devtools.deploy.targets.ecs.settings import PLACEHOLDER
from devtools.errors import DevtoolsError, ExitCode

UNCHANGED = "unchanged"

# Rolling deployments only: the circuit breaker needs the ECS controller, and it is what stops a
# revision that never gets healthy and puts the last good one back.
CIRCUIT_BREAKER = {"enable": True, "rollback": True}

# What UpdateService can change on a service that exists; the rest of CreateService's parameters
# (launchType, schedulingStrategy, deploymentController, tags, role) are fixed once it is created.
_UPDATABLE_SERVICE_FIELDS = (
    "desiredCount",
    "capacityProviderStrategy",
    "deploymentConfiguration",
    "availabilityZoneRebalancing",
    "networkConfiguration",
    "placementConstraints",
    "placementStrategy",
    "platformVersion",
    "healthCheckGracePeriodSeconds",
    "enableExecuteCommand",
    "enableECSManagedTags",
    "loadBalancers",
    "propagateTags",
    "serviceRegistries",
    "serviceConnectConfiguration",
    "volumeConfigurations",
    "vpcLatticeConfigurations",
)
_FIXED_SERVICE_FIELDS = ("launchType", "schedulingStrategy", "deploymentController")


@dataclass(frozen=True)
class Change:
    """One resource's line: `registered task definition mlstack-serving:4`."""

    action: str  # created, registered, updated, or UNCHANGED
    kind: str
    name: str
    detail: str = ""

    @property
    def changed(self) -> bool:
        return self.action != UNCHANGED

    def line(self) -> str:
        return f"{self.action} {self.kind} {self.name}" + (f" ({self.detail})" if self.detail else "")


Report = Callable[[Change], None]


@dataclass(frozen=True)
class Outcome:
    region: str
    changes: list[Change]
    stable: list[str] | None  # the services waited for; None with --no-wait

    def summary(self) -> str:
        changed = sum(change.changed for change in self.changes)
        unchanged = len(self.changes) - changed
        if changed:
            head = f"applied {changed} change{'s' if changed != 1 else ''} in {self.region} ({unchanged} unchanged)"
        else:
            head = f"nothing to change in {self.region}: all {unchanged} resources unchanged"
        if self.stable is None:
            return f"{head}; did not wait for the services (--no-wait)"
        return f"{head}; services stable: {', '.join(self.stable) or 'none'}"


def run(
    directory: Path,
    *,
    region: str | None,
    endpoint_url: str | None,
    wait_timeout_s: int | None,
    report: Report,
) -> Outcome:
    """Reads and checks the documents (nothing reaches AWS if they are not applicable), then applies."""
    documents = bundles.read(directory)
    for workload in documents.workloads:
        if workload.service is not None:
            service_request(workload)  # its input errors now, before the first call
    target_region = _target_region(region, documents)
    return Applier(documents, Aws(region=target_region, endpoint_url=endpoint_url), report).apply(wait_timeout_s)


def service_request(workload: Workload) -> dict[str, Any]:
    """The CreateService parameters: the document's, with a rolling deployment whose circuit breaker
    is on and rolls back. A document's own deploymentConfiguration (percentages) is kept."""
    assert workload.service is not None
    request = copy.deepcopy(workload.service)
    controller = request.setdefault("deploymentController", {"type": "ECS"})
    if controller.get("type") != "ECS":
        raise DevtoolsError(
            f"{workload.name}.service.json: deploymentController {controller.get('type')}: apply runs rolling "
            "(ECS) deployments only",
            ExitCode.USAGE,
        )
    request.setdefault("deploymentConfiguration", {})["deploymentCircuitBreaker"] = dict(CIRCUIT_BREAKER)
    return request


def _target_region(option: str | None, documents: Bundle) -> str:
    """--region, else boto3's chain, else the region the documents were rendered for; they must agree,
    or the log groups would be created where the tasks do not log."""
    rendered = documents.regions
    if len(rendered) > 1:
        raise DevtoolsError(
            f"the task definitions in {documents.directory} log to several regions ({', '.join(rendered)}): "
            "render again with one --region",
            ExitCode.USAGE,
        )
    region = option or default_region() or (rendered[0] if rendered else None)
    if region is None:
        raise DevtoolsError("no AWS region: pass --region or set AWS_REGION", ExitCode.USAGE)
    if rendered and region != rendered[0]:
        raise DevtoolsError(
            f"the documents were rendered for {rendered[0]} (awslogs-region) but the AWS region is {region}: "
            f"apply with --region {rendered[0]}, or render again with --region {region}",
            ExitCode.USAGE,
        )
    return region


@dataclass
class _Service:
    """A service this apply deals with, and what it found and did."""

    workload: Workload
    request: dict[str, Any]
    described: dict[str, Any] | None = None  # None: absent (or INACTIVE, which a create replaces)
    deployed: str | None = None  # the task definition ARN this apply set, when it created or updated

    @property
    def cluster(self) -> str:
        return str(self.request.get("cluster", "default"))

    @property
    def name(self) -> str:
        return str(self.request["serviceName"])

    @property
    def label(self) -> str:
        return f"{self.cluster}/{self.name}"


@dataclass
class Applier:
    documents: Bundle
    aws: Aws
    report: Report
    changes: list[Change] = field(default_factory=list)
    task_definition_arns: dict[str, str] = field(default_factory=dict)  # family -> latest ACTIVE revision
    target_groups: dict[str, dict[str, Any]] = field(default_factory=dict)  # workload -> its described group
    services: list[_Service] = field(default_factory=list)

    def apply(self, wait_timeout_s: int | None) -> Outcome:
        self.services = [
            _Service(workload, service_request(workload))
            for workload in self.documents.workloads
            if workload.service is not None
        ]
        try:
            self._check_clusters_and_services()
            self._check_gpu_capacity()
            self._log_groups()
            self._task_definitions()
            self._job_definitions()
            self._target_groups()
            for service in self.services:
                self._service(service)
            for service in self.services:
                self._autoscaling(service.workload)
            stable = None if wait_timeout_s is None else self._wait(wait_timeout_s)
        except DevtoolsError as exc:
            raise DevtoolsError(f"{exc.message} ({self._done_so_far()})", exc.code) from exc
        return Outcome(self.aws.region, self.changes, stable)

    def _done(self, change: Change) -> None:
        self.changes.append(change)
        self.report(change)

    def _done_so_far(self) -> str:
        made = sum(change.changed for change in self.changes)
        if not made:
            return "nothing was changed"
        return f"{made} change{'s' if made != 1 else ''} made before this, listed above"

    # Read-only checks first: a missing cluster or a service ECS cannot change in place fails here,
    # before anything is written.
    def _check_clusters_and_services(self) -> None:
        clusters = sorted({service.cluster for service in self.services})
        if clusters:
            found = self.aws.call("ecs", "DescribeClusters", clusters=clusters)
            active = {cluster["clusterName"] for cluster in found.get("clusters", []) if cluster["status"] == "ACTIVE"}
            for cluster in clusters:
                if cluster not in active:
                    raise DevtoolsError(
                        f"ECS cluster {cluster} not found (or not ACTIVE) in {self.aws.region}: create it first "
                        f"(aws ecs create-cluster --cluster-name {cluster})",
                        ExitCode.FAILURE,
                    )
        for service in self.services:
            service.described = self._describe_service(service)
            if service.described is not None:
                _check_fixed_fields(service)

    def _check_gpu_capacity(self) -> None:
        """A GPU job runs on EC2 capacity: a cluster with only Fargate's capacity providers would take
        its task definition and never run it (Fargate has no GPUs)."""
        for workload in self.documents.workloads:
            if workload.run_task is None:
                continue
            cluster = str(workload.run_task.get("cluster", "default"))
            found = self.aws.call("ecs", "DescribeClusters", clusters=[cluster]).get("clusters", [])
            providers = [str(p) for c in found if c.get("status") == "ACTIVE" for p in c.get("capacityProviders", [])]
            ec2 = [p for p in providers if p not in ("FARGATE", "FARGATE_SPOT")]
            if not found or not ec2:
                has = ", ".join(providers) or "no capacity provider"
                raise DevtoolsError(
                    f"{workload.name} needs EC2 GPU capacity, but ECS cluster {cluster} has {has}: add a capacity "
                    "provider backed by an Auto Scaling group of the ECS GPU-optimized AMI (deploy/README.md, GPU "
                    "training) and name it in DEVTOOLS_ECS_GPU_CAPACITY_PROVIDER",
                    ExitCode.FAILURE,
                )

    def _job_definitions(self) -> None:
        """AWS Batch job definitions are revisions, like task definitions: a new one only when it differs
        from the latest ACTIVE one."""
        for workload in self.documents.workloads:
            wanted = workload.job_definition
            if wanted is None:
                continue
            name = str(wanted["jobDefinitionName"])
            found = self.aws.call("batch", "DescribeJobDefinitions", jobDefinitionName=name, status="ACTIVE")
            latest = max(found.get("jobDefinitions", []), key=lambda d: int(d.get("revision", 0)), default=None)
            if latest is not None and not differing_fields(wanted, {**latest, "jobDefinitionName": name}):
                self._done(Change(UNCHANGED, "batch job definition", f"{name}:{latest['revision']}"))
                continue
            registered = self.aws.call("batch", "RegisterJobDefinition", **wanted)
            detail = "new" if latest is None else f"differs from {name}:{latest['revision']}"
            self._done(Change("registered", "batch job definition", f"{name}:{registered['revision']}", detail))

    def _describe_service(self, service: _Service) -> dict[str, Any] | None:
        found = self.aws.call(
            "ecs", "DescribeServices", cluster=service.cluster, services=[service.name], include=["TAGS"]
        )
        for described in found.get("services", []):
            if described.get("status") == "DRAINING":
                raise DevtoolsError(
                    f"service {service.label} is being deleted (DRAINING): apply again once it is INACTIVE",
                    ExitCode.FAILURE,
                )
            if described.get("status") == "ACTIVE":
                return dict(described)
        return None

    def _log_groups(self) -> None:
        """awslogs does not create its log group (unless awslogs-create-group is set), and a task
        whose group is missing never starts."""
        for name in _log_groups(self.documents.workloads):
            existing = self.aws.items("logs", "DescribeLogGroups", "logGroups", logGroupNamePrefix=name)
            if any(group.get("logGroupName") == name for group in existing):
                self._done(Change(UNCHANGED, "log group", name))
            else:
                self.aws.call("logs", "CreateLogGroup", logGroupName=name)
                self._done(Change("created", "log group", name))

    def _task_definitions(self) -> None:
        for workload in self.documents.workloads:
            wanted = workload.task_definition
            latest = self._latest_task_definition(workload.family)
            if latest is not None:
                described, tags = latest
                fields = differing_fields({**wanted, "tags": wanted.get("tags", [])}, {**described, "tags": tags})
                if not fields:
                    arn = str(described["taskDefinitionArn"])
                    self.task_definition_arns[workload.family] = arn
                    self._done(Change(UNCHANGED, "task definition", _revision(arn)))
                    continue
                detail = f"{', '.join(fields)} differ from {_revision(str(described['taskDefinitionArn']))}"
            else:
                detail = "new family"
            registered = self.aws.call("ecs", "RegisterTaskDefinition", **wanted)["taskDefinition"]
            arn = str(registered["taskDefinitionArn"])
            self.task_definition_arns[workload.family] = arn
            self._done(Change("registered", "task definition", _revision(arn), detail))

    def _latest_task_definition(self, family: str) -> tuple[dict[str, Any], list[Any]] | None:
        """The family's latest ACTIVE revision and its tags, or None for a family never registered.
        (familyPrefix is a prefix: `mlstack-serving` also lists `mlstack-serving-canary`.)"""
        families = self.aws.items("ecs", "ListTaskDefinitionFamilies", "families", familyPrefix=family, status="ACTIVE")
        if family not in families:
            return None
        found = self.aws.call("ecs", "DescribeTaskDefinition", taskDefinition=family, include=["TAGS"])
        return dict(found["taskDefinition"]), list(found.get("tags", []))

    def _target_groups(self) -> None:
        """Target groups are found by name and created when missing, never modified. A service whose
        document names its target group ARN (DEVTOOLS_ECS_TARGET_GROUP_ARN_<SERVICE>) uses that one."""
        for service in self.services:
            for balancer in service.request.get("loadBalancers", []):
                arn = str(balancer.get("targetGroupArn", ""))
                if PLACEHOLDER.fullmatch(arn):
                    group = self._ensure_target_group(service.workload)
                    balancer["targetGroupArn"] = group["TargetGroupArn"]
                else:
                    group = self._given_target_group(service, arn)
                self.target_groups[service.workload.name] = group
        # ECS refuses a service on a target group no load balancer forwards to; say so for all of them
        # at once, before any service is touched.
        detached = sorted(
            str(group["TargetGroupName"]) for group in self.target_groups.values() if not group.get("LoadBalancerArns")
        )
        if detached:
            raise DevtoolsError(
                f"target group{'s' if len(detached) > 1 else ''} {', '.join(detached)} not attached to a load "
                "balancer: ECS cannot put a service behind it; forward an ALB listener rule to it (its ARN is "
                "above or in `aws elbv2 describe-target-groups`), then apply again",
                ExitCode.FAILURE,
            )

    def _ensure_target_group(self, workload: Workload) -> dict[str, Any]:
        assert workload.target_group is not None
        name = str(workload.target_group["Name"])
        found = self.aws.find("elbv2", "DescribeTargetGroups", absent="TargetGroupNotFound", Names=[name])
        if found and found.get("TargetGroups"):
            group = dict(found["TargetGroups"][0])
            self._done(Change(UNCHANGED, "target group", name))
            return group
        group = dict(self.aws.call("elbv2", "CreateTargetGroup", **workload.target_group)["TargetGroups"][0])
        self._done(Change("created", "target group", name, str(group["TargetGroupArn"])))
        return group

    def _given_target_group(self, service: _Service, arn: str) -> dict[str, Any]:
        found = self.aws.find("elbv2", "DescribeTargetGroups", absent="TargetGroupNotFound", TargetGroupArns=[arn])
        if not found or not found.get("TargetGroups"):
            raise DevtoolsError(
                f"target group {arn} ({service.workload.name}.service.json) does not exist in {self.aws.region}",
                ExitCode.FAILURE,
            )
        group = dict(found["TargetGroups"][0])
        self._done(Change(UNCHANGED, "target group", str(group["TargetGroupName"]), "given by the service document"))
        return group

    def _service(self, service: _Service) -> None:
        arn = self.task_definition_arns[str(service.request["taskDefinition"])]
        if service.described is None:
            self._create_service(service, arn)
            return
        described = service.described
        # Autoscaling owns the desired count of a scaled service once it exists: leave it alone.
        wanted = _updatable(service.request, autoscaled=service.workload.scalable_target is not None)
        update = {name: wanted[name] for name in differing_fields(wanted, described)}
        if described.get("taskDefinition") != arn:
            update["taskDefinition"] = arn
        retag = bool(differing_fields({"tags": service.request.get("tags", [])}, {"tags": described.get("tags", [])}))
        if not update and not retag:
            self._done(Change(UNCHANGED, "service", service.label, _revision(arn)))
            return
        parts = [f"task definition {_revision(arn)}"] if "taskDefinition" in update else []
        parts += [name for name in update if name != "taskDefinition"]
        if update:
            self._update_service(service, update)
            service.deployed = arn
        if retag:
            try:
                # Tags are not UpdateService's; the image-tag tag follows the image (propagated to tasks).
                self.aws.call("ecs", "TagResource", resourceArn=described["serviceArn"], tags=service.request["tags"])
            except DevtoolsError:
                if update:  # the update went through: on screen before the error
                    self._done(Change("updated", "service", service.label, ", ".join(parts)))
                raise
            parts.append("tags")
        self._done(Change("updated", "service", service.label, ", ".join(parts)))

    def _create_service(self, service: _Service, arn: str) -> None:
        created = self.aws.call("ecs", "CreateService", **{**service.request, "taskDefinition": arn})["service"]
        service.deployed = arn
        self._done(Change("created", "service", service.label, _revision(arn)))
        # Set what CreateService did not keep (moto drops deploymentConfiguration, for one); on AWS the
        # created service matches the request and no second call is made.
        wanted = _updatable(service.request, autoscaled=False)
        missed = differing_fields(wanted, created)
        if missed:
            self._update_service(service, {name: wanted[name] for name in missed})

    def _update_service(self, service: _Service, fields: dict[str, Any]) -> None:
        self.aws.call("ecs", "UpdateService", cluster=service.cluster, service=service.name, **fields)

    def _autoscaling(self, workload: Workload) -> None:
        if workload.scalable_target is not None:
            self._scalable_target(workload.scalable_target)
        if workload.scaling_policy is not None:
            self._scaling_policy(workload, workload.scaling_policy)

    def _scalable_target(self, wanted: dict[str, Any]) -> None:
        ids = {name: wanted[name] for name in ("ServiceNamespace", "ResourceId", "ScalableDimension")}
        found = self.aws.items(
            "application-autoscaling",
            "DescribeScalableTargets",
            "ScalableTargets",
            ServiceNamespace=ids["ServiceNamespace"],
            ResourceIds=[ids["ResourceId"]],
            ScalableDimension=ids["ScalableDimension"],
        )
        described = next((target for target in found if _same_ids(target, ids)), None)
        detail = f"{wanted.get('MinCapacity')}-{wanted.get('MaxCapacity')} tasks"
        if described is not None and not differing_fields(wanted, described):
            self._done(Change(UNCHANGED, "scalable target", ids["ResourceId"], detail))
            return
        self.aws.call("application-autoscaling", "RegisterScalableTarget", **wanted)
        self._done(Change("created" if described is None else "updated", "scalable target", ids["ResourceId"], detail))

    def _scaling_policy(self, workload: Workload, document: dict[str, Any]) -> None:
        wanted = self._with_resource_label(workload, document)
        ids = {name: wanted[name] for name in ("ServiceNamespace", "ResourceId", "ScalableDimension")}
        found = self.aws.items(
            "application-autoscaling",
            "DescribeScalingPolicies",
            "ScalingPolicies",
            PolicyNames=[wanted["PolicyName"]],
            **ids,
        )
        # PolicyNames is a filter AWS applies; moto ignores it, so match the name here too.
        described = next(
            (policy for policy in found if policy.get("PolicyName") == wanted["PolicyName"] and _same_ids(policy, ids)),
            None,
        )
        name = str(wanted["PolicyName"])
        if described is not None and not differing_fields(wanted, described):
            self._done(Change(UNCHANGED, "scaling policy", name))
            return
        self.aws.call("application-autoscaling", "PutScalingPolicy", **wanted)
        self._done(Change("created" if described is None else "updated", "scaling policy", name))

    def _with_resource_label(self, workload: Workload, document: dict[str, Any]) -> dict[str, Any]:
        """ALBRequestCountPerTarget needs `app/<alb>/<id>/targetgroup/<tg>/<id>`: made from the target
        group apply found or created, and the load balancer it is attached to."""
        policy = copy.deepcopy(document)
        metric = policy.get("TargetTrackingScalingPolicyConfiguration", {}).get("PredefinedMetricSpecification", {})
        label = str(metric.get("ResourceLabel", ""))
        if PLACEHOLDER.fullmatch(label):
            group = self.target_groups[workload.name]
            balancer = str(group["LoadBalancerArns"][0]).split(":loadbalancer/", 1)[1]
            metric["ResourceLabel"] = f"{balancer}/{str(group['TargetGroupArn']).split(':', 5)[5]}"
        return policy

    def _wait(self, timeout_s: int) -> list[str]:
        """Stable: every service has one deployment, with as many tasks running as desired. A
        deployment the circuit breaker rolled back ends stable too, so that is checked after."""
        by_cluster: dict[str, list[_Service]] = {}
        for service in self.services:
            by_cluster.setdefault(service.cluster, []).append(service)
        deadline = time.monotonic() + timeout_s  # one --wait-timeout for all clusters together
        for cluster, services in by_cluster.items():
            left = max(1, math.ceil(deadline - time.monotonic()))
            reason = self.aws.services_stable(cluster, [service.name for service in services], timeout_s=left)
            if reason is not None:
                raise DevtoolsError(self._not_stable(services, timeout_s, reason), ExitCode.UNHEALTHY)
        for service in self.services:
            if service.deployed is not None:
                self._check_not_rolled_back(service)
        return [service.label for service in self.services]

    def _not_stable(self, services: list[_Service], timeout_s: int, reason: str) -> str:
        waiting = []
        for service in services:
            described = self._describe_service(service)
            if described is None:
                waiting.append(f"{service.label} (missing)")
                continue
            deployments = len(described.get("deployments", []))
            running, desired = described.get("runningCount", 0), described.get("desiredCount", 0)
            if deployments != 1 or running != desired:
                waiting.append(
                    f"{service.label} ({running} of {desired} tasks running, "
                    f"{deployments} deployment{'s' if deployments != 1 else ''})"
                )
        which = ", ".join(waiting) or ", ".join(service.label for service in services)
        why = f" ({reason})" if reason else ""
        return f"services not stable within {timeout_s} s{why}: {which}; see `aws ecs describe-services`"

    def _check_not_rolled_back(self, service: _Service) -> None:
        described = self._describe_service(service)
        deployments: list[dict[str, Any]] = (described or {}).get("deployments", [])
        primary = next((deployment for deployment in deployments if deployment.get("status") == "PRIMARY"), {})
        current = (described or {}).get("taskDefinition")
        if current != service.deployed or primary.get("rolloutState") == "FAILED":
            raise DevtoolsError(
                f"service {service.label}: the deployment of {_revision(str(service.deployed))} failed and the "
                f"circuit breaker rolled it back to {_revision(str(current))}; see the service's events "
                "(aws ecs describe-services)",
                ExitCode.UNHEALTHY,
            )


def _check_fixed_fields(service: _Service) -> None:
    assert service.described is not None
    for name in _FIXED_SERVICE_FIELDS:
        if name in service.request and differing_fields({name: service.request[name]}, service.described):
            raise DevtoolsError(
                f"service {service.label} exists with a different {name} ({service.described.get(name)}) than "
                f"{service.workload.name}.service.json; ECS cannot change it in place: delete the service first",
                ExitCode.FAILURE,
            )


def _updatable(request: dict[str, Any], *, autoscaled: bool) -> dict[str, Any]:
    return {
        name: request[name]
        for name in _UPDATABLE_SERVICE_FIELDS
        if name in request and not (autoscaled and name == "desiredCount")
    }


def _log_groups(workloads: Iterable[Workload]) -> list[str]:
    names: set[str] = set()
    for workload in workloads:
        for container in workload.task_definition.get("containerDefinitions", []):
            logging = container.get("logConfiguration", {})
            options = logging.get("options", {})
            if logging.get("logDriver") == "awslogs" and options.get("awslogs-create-group") != "true":
                names.add(str(options["awslogs-group"]))
    return sorted(names)


def _same_ids(described: dict[str, Any], ids: dict[str, Any]) -> bool:
    return all(described.get(name) == value for name, value in ids.items())


def _revision(arn: str) -> str:
    """arn:aws:ecs:...:task-definition/mlstack-serving:4 -> mlstack-serving:4"""
    return arn.rsplit("/", 1)[-1]
