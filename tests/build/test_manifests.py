"""The manifests against Kubernetes' own schemas (kubernetes-validate) and the CRDs of KServe and Seldon."""

import gzip
import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from modelserve.build import BuildError
from modelserve.build.manifests import ManifestOptions, dns_name, resources

CRDS = Path(__file__).parent / "crds"
KUBERNETES_VERSION = "1.30"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def crd_schema(kind: str) -> dict[str, Any]:
    for path in CRDS.glob("*.yaml.gz"):
        with gzip.open(path, "rt") as file:
            crd = yaml.load(file, Loader=Loader)
        if crd["spec"]["names"]["kind"] == kind:
            version = next(v for v in crd["spec"]["versions"] if v.get("storage"))
            return {"group": crd["spec"]["group"], "version": version["name"], **version["schema"]["openAPIV3Schema"]}
    raise LookupError(kind)


def validate(document: dict[str, Any]) -> None:
    kind = document["kind"]
    if kind in ("InferenceService", "SeldonDeployment"):
        schema = crd_schema(kind)
        assert document["apiVersion"] == f"{schema['group']}/{schema['version']}"
        jsonschema.Draft7Validator(schema).validate(document)
    else:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def manifests(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "modelserve", "manifests", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


PARAMETERS = '[{"name": "factor", "value": "3", "type": "INT"}, {"name": "label", "value": "x", "type": "STRING"}]'


def test_every_kind_is_valid(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    info = {"model_name": "MyRouter", "service_type": "ROUTER", "python_version": "3.11", "environment": {}}
    (bundle / "bundle.json").write_text(json.dumps(info))
    result = manifests(
        "registry.example/router:1.0", "--bundle", str(bundle), "--kind", "deployment", "--kind", "kserve",
        "--kind", "seldon", "--parameters", PARAMETERS, "--namespace", "models", "-e", "GUNICORN_WORKERS=2",
        "--graceful-timeout", "20", "--replicas", "2", "--max-replicas", "6",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    documents = list(yaml.safe_load_all(result.stdout))
    kinds = [d["kind"] for d in documents]
    assert kinds == ["Deployment", "Service", "HorizontalPodAutoscaler", "InferenceService", "SeldonDeployment"]
    for document in documents:
        validate(document)
        assert document["metadata"]["name"] == "my-router" and document["metadata"]["namespace"] == "models"
    deployment, service, hpa, isvc, sdep = documents
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env == {
        "MODELSERVE_GRACEFUL_TIMEOUT": "20",
        "PREDICTIVE_UNIT_PARAMETERS": json.dumps(json.loads(PARAMETERS)),
        "GUNICORN_WORKERS": "2",
    }
    assert pod["terminationGracePeriodSeconds"] == 5 + 20 + 5  # preStop, the drain, a margin
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == "6000" and annotations["prometheus.io/scrape"] == "true"
    assert [p["port"] for p in service["spec"]["ports"]] == [9000, 5000, 6000]
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    predictor = isvc["spec"]["predictor"]["containers"][0]
    isvc_env = {e["name"]: e["value"] for e in predictor["env"]}
    assert isvc_env["MODELSERVE_MODEL_NAME"] == "my-router" and predictor["ports"] == [
        {"containerPort": 9000, "protocol": "TCP"}
    ]
    graph = sdep["spec"]["predictors"][0]["graph"]
    assert (
        graph["type"] == "ROUTER"
        and graph["name"] == sdep["spec"]["predictors"][0]["componentSpecs"][0]["spec"]["containers"][0]["name"]
    )
    assert graph["parameters"] == json.loads(PARAMETERS)


def test_a_broken_resource_fails_validation() -> None:
    """The validation can fail: a wrong field type in each kind is caught."""
    options = ManifestOptions(image="i", name="m", model_name="M", kinds=["deployment", "kserve", "seldon"])
    for document in resources(options):
        broken = json.loads(json.dumps(document))
        if document["kind"] == "Deployment":
            broken["spec"]["replicas"] = "many"
        elif document["kind"] == "Service":
            broken["spec"]["ports"][0]["port"] = "http"
        elif document["kind"] == "HorizontalPodAutoscaler":
            broken["spec"]["maxReplicas"] = [1]
        elif document["kind"] == "InferenceService":
            broken["spec"]["predictor"]["scaleMetric"] = "gpu"
        else:
            broken["spec"]["predictors"][0]["graph"]["parameters"] = [{"name": "a"}]
        validate(document)
        with pytest.raises((kubernetes_validate.ValidationError, jsonschema.ValidationError)):
            validate(broken)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "seldon", "-e", "MODEL_NAME=M", "--parameters", '[{"name":"c","value":"{}","type":"JSON"}]'],
         "'c' is JSON; a SeldonDeployment takes INT, FLOAT, DOUBLE, STRING, BOOL"),
        (["--kind", "seldon", "-e", "MODEL_NAME=M", "-e", "SERVICE_TYPE=OUTLIER_DETECTOR"],
         "SERVICE_TYPE OUTLIER_DETECTOR: a SeldonDeployment graph has MODEL"),
        (["--parameters", '[{"name":"n","value":"x","type":"INT"}]', "-e", "MODEL_NAME=M"],
         "--parameters: parameter 'n' with value 'x' cannot be parsed as INT"),
        ([], "name the model: --bundle DIR"),
        (["-e", "MODEL_NAME=M", "--name", "Bad_Name"], "a Kubernetes name is lower-case"),
        (["--bundle", "/nonexistent"], "/nonexistent: not a bundle written by modelserve build"),
    ],
)  # fmt: skip
def test_errors(args: list[str], message: str) -> None:
    result = manifests("image:1", *args)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr


def test_names() -> None:
    assert dns_name("MyModel") == "my-model" and dns_name("IrisTree_v2") == "iris-tree-v2"
    with pytest.raises(BuildError, match="--replicas 5"):
        ManifestOptions(image="i", name="m", model_name="M", replicas=5).check()


def test_written_to_a_file(tmp_path: Path) -> None:
    target = tmp_path / "m.yaml"
    assert manifests("image:1", "-e", "MODEL_NAME=pkg.mod.Iris", "-o", str(target)).returncode == 0
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(target.read_text())] == ["iris"] * 3
