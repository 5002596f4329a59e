"""``modelserve manifests IMAGE``: Kubernetes resources that run a built image.

- ``deployment``: a Deployment (probes on the health routes, the metrics port annotated
  for Prometheus, a grace period that covers ``--graceful-timeout``, resources), its
  Service and a HorizontalPodAutoscaler;
- ``kserve``: an InferenceService with the image as its custom predictor container (the
  V2 and V1 routes on its HTTP port, named after the service as KServe calls it);
- ``seldon``: a SeldonDeployment whose graph runs the image, with ``parameters``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from modelserve.build import MANIFEST_KINDS, BuildError
from modelserve.build.bundle import Bundle
from modelserve.build.containerfile import USER
from modelserve.build.s2i_environment import parse_overrides
from modelserve.errors import StartupError
from modelserve.model.loader import parse_parameters

HTTP_PORT, GRPC_PORT, METRICS_PORT = 9000, 5000, 6000
PRESTOP_SECONDS = 5  # time for the endpoints to drop the pod before the server stops listening
SELDON_GRAPH_TYPES = ("MODEL", "ROUTER", "TRANSFORMER", "OUTPUT_TRANSFORMER", "COMBINER")
SELDON_PARAMETER_TYPES = ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL")


@dataclass
class ManifestOptions:
    image: str
    name: str
    model_name: str
    service_type: str = "MODEL"
    kinds: list[str] = field(default_factory=lambda: ["deployment"])
    environment: dict[str, str] = field(default_factory=dict)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    namespace: str | None = None
    replicas: int = 1
    max_replicas: int = 4
    target_cpu: int = 80
    cpu: str = "1"
    memory: str = "1Gi"
    graceful_timeout: float = 30.0

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ManifestOptions:
        environment = {a.key: a.value for a in parse_overrides(args.overrides)}
        model_name, service_type = environment.get("MODEL_NAME"), environment.get("SERVICE_TYPE")
        if args.bundle is not None:
            bundle = Bundle.read(args.bundle)
            model_name = model_name or bundle.model_name
            service_type = service_type or bundle.service_type
        name = args.name or (model_name and dns_name(model_name.rpartition(".")[2]))
        if not name or not model_name:
            raise BuildError("name the model: --bundle DIR (the bundle the image was built from) or -e MODEL_NAME=...")
        parameters = _parameters(args.parameters) if args.parameters else []
        options = cls(
            image=args.image,
            name=name,
            model_name=model_name,
            service_type=(service_type or "MODEL").upper(),
            kinds=list(dict.fromkeys(args.kind or ["deployment"])),
            environment=environment,
            parameters=parameters,
            namespace=args.namespace,
            replicas=args.replicas,
            max_replicas=args.max_replicas,
            target_cpu=args.target_cpu,
            cpu=args.cpu,
            memory=args.memory,
            graceful_timeout=args.graceful_timeout,
        )
        options.check()
        return options

    def check(self) -> None:
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", self.name):
            raise BuildError(f"--name {self.name!r}: a Kubernetes name is lower-case letters, digits and -")
        if not 1 <= self.replicas <= self.max_replicas:
            raise BuildError(f"--replicas {self.replicas} must be at least 1 and at most --max-replicas")
        if self.graceful_timeout <= 0:
            raise BuildError("--graceful-timeout must be positive")
        for kind in self.kinds:
            if kind not in MANIFEST_KINDS:
                raise BuildError(f"--kind {kind}: one of {', '.join(MANIFEST_KINDS)}")


def dns_name(text: str) -> str:
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", text).lower()
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-")[:63].strip("-")


def _parameters(text: str) -> list[dict[str, Any]]:
    try:
        parse_parameters(text)  # the server's own check: names, types, values
    except StartupError as error:
        raise BuildError(f"--parameters: {error}") from None
    parameters: list[dict[str, Any]] = json.loads(text)
    return parameters


def render(options: ManifestOptions) -> str:
    from modelserve.build.yaml_text import dump_all

    return dump_all(resources(options))


def resources(options: ManifestOptions) -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    for kind in options.kinds:
        if kind == "deployment":
            documents += [deployment(options), service(options), autoscaler(options)]
        elif kind == "kserve":
            documents.append(inference_service(options))
        else:
            documents.append(seldon_deployment(options))
    return documents


def _metadata(options: ManifestOptions, **extra: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": options.name}
    if options.namespace:
        metadata["namespace"] = options.namespace
    metadata.update(extra)
    return metadata


def _labels(options: ManifestOptions) -> dict[str, str]:
    return {"app.kubernetes.io/name": options.name, "app.kubernetes.io/managed-by": "modelserve"}


def _env(values: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": key, "value": value} for key, value in values.items()]


def _grace_seconds(options: ManifestOptions) -> int:
    return PRESTOP_SECONDS + math.ceil(options.graceful_timeout) + 5


def _resources(options: ManifestOptions) -> dict[str, Any]:
    return {"requests": {"cpu": options.cpu, "memory": options.memory}, "limits": {"memory": options.memory}}


def _probe(path: str, port: int | str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": port}, "periodSeconds": period, "failureThreshold": failures}


def _server_env(options: ManifestOptions, **extra: str) -> dict[str, str]:
    environment = {"MODELSERVE_GRACEFUL_TIMEOUT": f"{options.graceful_timeout:g}", **extra}
    if options.parameters:
        environment["PREDICTIVE_UNIT_PARAMETERS"] = json.dumps(options.parameters)
    environment.update(options.environment)
    return environment


def deployment(options: ManifestOptions) -> dict[str, Any]:
    container = {
        "name": "model",
        "image": options.image,
        "ports": [
            {"name": "http", "containerPort": HTTP_PORT},
            {"name": "grpc", "containerPort": GRPC_PORT},
            {"name": "metrics", "containerPort": METRICS_PORT},
        ],
        "env": _env(_server_env(options)),
        "resources": _resources(options),
        # the model is loaded before the ports answer: the start-up probe gives a slow load 10 minutes
        "startupProbe": _probe("/v2/health/live", "http", 2, 300),
        "livenessProbe": _probe("/v2/health/live", "http", 10, 3),
        "readinessProbe": _probe("/v2/health/ready", "http", 5, 2),
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", str(PRESTOP_SECONDS)]}}},
    }
    annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": options.environment.get("PREDICTIVE_UNIT_METRICS_ENDPOINT", "/metrics"),
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(options, labels=_labels(options)),
        "spec": {
            "replicas": options.replicas,
            "selector": {"matchLabels": {"app.kubernetes.io/name": options.name}},
            "template": {
                "metadata": {"labels": _labels(options), "annotations": annotations},
                "spec": {
                    "terminationGracePeriodSeconds": _grace_seconds(options),
                    "securityContext": {"runAsNonRoot": True, "runAsUser": USER},
                    "containers": [container],
                },
            },
        },
    }


def service(options: ManifestOptions) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(options, labels=_labels(options)),
        "spec": {
            "selector": {"app.kubernetes.io/name": options.name},
            "ports": [
                {"name": "http", "port": HTTP_PORT, "targetPort": "http"},
                {"name": "grpc", "port": GRPC_PORT, "targetPort": "grpc", "appProtocol": "grpc"},
                {"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"},
            ],
        },
    }


def autoscaler(options: ManifestOptions) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(options, labels=_labels(options)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": options.name},
            "minReplicas": options.replicas,
            "maxReplicas": options.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": options.target_cpu},
                    },
                }
            ],
        },
    }


def inference_service(options: ManifestOptions) -> dict[str, Any]:
    # KServe (Knative) routes one port, HTTP: the V2 and V1 routes; the model is named after the service.
    environment = _server_env(options, MODELSERVE_MODEL_NAME=options.name, GRPC_WORKERS="0")
    container = {
        "name": "kserve-container",
        "image": options.image,
        "ports": [{"containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": _env(environment),
        "resources": _resources(options),
        "readinessProbe": _probe("/v2/health/ready", HTTP_PORT, 5, 2),
    }
    annotations = {
        "serving.kserve.io/enable-prometheus-scraping": "true",
        "prometheus.kserve.io/port": str(METRICS_PORT),
        "prometheus.kserve.io/path": options.environment.get("PREDICTIVE_UNIT_METRICS_ENDPOINT", "/metrics"),
    }
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": _metadata(options, annotations=annotations),
        "spec": {
            "predictor": {
                "minReplicas": options.replicas,
                "maxReplicas": options.max_replicas,
                "scaleMetric": "cpu",
                "scaleTarget": options.target_cpu,
                "terminationGracePeriodSeconds": _grace_seconds(options),
                "containers": [container],
            }
        },
    }


def seldon_deployment(options: ManifestOptions) -> dict[str, Any]:
    if options.service_type not in SELDON_GRAPH_TYPES:
        raise BuildError(
            f"SERVICE_TYPE {options.service_type}: a SeldonDeployment graph has {', '.join(SELDON_GRAPH_TYPES)}"
        )
    parameters = []
    for parameter in options.parameters:
        kind = str(parameter.get("type", "STRING")).upper()
        if kind not in SELDON_PARAMETER_TYPES:
            raise BuildError(
                f"--parameters: {parameter['name']!r} is {kind}; a SeldonDeployment takes "
                f"{', '.join(SELDON_PARAMETER_TYPES)} (pass JSON as a STRING or with -e PREDICTIVE_UNIT_PARAMETERS)"
            )
        value = parameter["value"]
        text = value if isinstance(value, str) else json.dumps(value)
        parameters.append({"name": parameter["name"], "type": kind, "value": text})
    # the operator sets the ports and PREDICTIVE_UNIT_PARAMETERS; the graph's parameters reach the constructor
    environment = {"MODELSERVE_GRACEFUL_TIMEOUT": f"{options.graceful_timeout:g}", **options.environment}
    container = {
        "name": options.name,
        "image": options.image,
        "env": _env(environment),
        "resources": _resources(options),
    }
    graph: dict[str, Any] = {
        "name": options.name,
        "type": options.service_type,
        "endpoint": {"type": "REST"},
        "children": [],
    }
    if parameters:
        graph["parameters"] = parameters
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": _metadata(options),
        "spec": {
            "protocol": "seldon",
            "predictors": [
                {
                    "name": "default",
                    "replicas": options.replicas,
                    "componentSpecs": [
                        {"spec": {"terminationGracePeriodSeconds": _grace_seconds(options), "containers": [container]}}
                    ],
                    "graph": graph,
                }
            ],
        },
    }
