"""An MLflow model's metrics reach a real push gateway under Merlin's grouping key, in both
protocols (the original pushed only in UPI mode)."""

from __future__ import annotations

import socket

import httpx
import pytest

from modelserve.codecs import upi
from tests.workers.test_pushgateway import PushGateway, gateway, wait_for  # noqa: F401  (gateway: a fixture)


@pytest.mark.parametrize("protocol", ["HTTP_JSON", "UPI_V1"])
def test_pushed_with_merlins_grouping_key(merlin_server, gateway: PushGateway, protocol: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    env = {
        "PUSHGATEWAY_ENABLED": "true",
        "PUSHGATEWAY_URL": f"127.0.0.1:{gateway.port}",
        "PUSHGATEWAY_PUSH_INTERVAL_SEC": "0.5",
    }
    server = merlin_server("metrics", protocol, env=env)
    if protocol == "HTTP_JSON":
        assert httpx.post(server.predict_url, json={}).json() == {"counted": True}
    else:
        import grpc

        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            channel.unary_unary(f"/{upi.SERVICE}/{upi.METHOD}")(b"", timeout=10)

    def pushed() -> bool:
        group = gateway.group("merlin_pyfunc_upi")
        return group is not None and "pyfunc_test_predictions_total" in group

    assert wait_for(pushed), gateway.groups()
    group = gateway.group("merlin_pyfunc_upi")
    assert group is not None
    assert group["labels"] == {
        "job": "merlin_pyfunc_upi",
        "merlin_model_name": "metrics",
        "merlin_model_version": "1",
        "host": socket.getfqdn(),
    }
    assert "modelserve_requests_total" in group
