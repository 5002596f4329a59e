import pytest

from modelserve.errors import ServingError
from modelserve.model.metadata import ModelMetadata, default_metadata


class WithMetadata:
    def init_metadata(self):  # type: ignore[no-untyped-def]
        return {
            "name": "m",
            "versions": ["1"],
            "inputs": [{"messagetype": "ndarray", "schema": {}}],
            "outputs": [{"name": "o", "datatype": "FP32", "shape": [1, 2]}],
            "custom": {"k": "v"},
        }


def test_defaults_from_image() -> None:
    assert default_metadata("repo/name:1.2")["name"] == "repo/name"
    assert default_metadata("repo/name:1.2")["versions"] == ["1.2"]
    assert default_metadata(None)["versions"] == [""]


def test_env_overrides_init_metadata() -> None:
    metadata = ModelMetadata.build(WithMetadata(), None, '{"name": "env", "custom": {"a": "b"}}').get()
    assert metadata["name"] == "env" and metadata["custom"] == {"a": "b"} and metadata["versions"] == ["1"]


@pytest.mark.parametrize(
    "bad",
    [
        '{"versions": "1"}',
        '{"custom": {"k": 1}}',
        '{"inputs": [{"name": "x"}]}',
        '{"inputs": [{"name": "x", "datatype": "FP99", "shape": [1]}]}',
        "[1]",
    ],
)
def test_invalid_metadata_is_a_500_on_request(bad: str) -> None:
    metadata = ModelMetadata.build(WithMetadata(), None, bad)
    with pytest.raises(ServingError) as failure:
        metadata.get()
    assert failure.value.reason == "MICROSERVICE_BAD_METADATA"
