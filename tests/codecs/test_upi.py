"""UPI v1 messages: our classes, the user's (caraml-upi-protos), and the wire between them."""

from __future__ import annotations

import pytest

from modelserve.codecs import messages, upi
from modelserve.errors import BadRequest, UserCodeError


def test_the_users_classes_when_caraml_upi_protos_is_there() -> None:
    from caraml.upi.v1 import upi_pb2

    assert upi.user_classes() == (upi_pb2.PredictValuesRequest, upi_pb2.PredictValuesResponse)
    assert upi.PredictValuesRequest.DESCRIPTOR.file.pool is messages.POOL


def test_a_request_decodes_into_the_class_the_model_builds_answers_with() -> None:
    from caraml.upi.v1 import upi_pb2

    ours = upi.PredictValuesRequest(target_name="t")
    ours.prediction_table.name = "x"
    request = upi.decode(ours.SerializeToString(), upi_pb2.PredictValuesRequest)
    answer = upi_pb2.PredictValuesResponse(prediction_result_table=request.prediction_table)  # same pool
    assert upi.PredictValuesResponse.FromString(upi.encode(answer)).prediction_result_table.name == "x"
    assert (
        upi.encode(upi.PredictValuesResponse(target_name="ours"))
        == answer.__class__(target_name="ours").SerializeToString()
    )


def test_bad_requests_and_answers() -> None:
    with pytest.raises(BadRequest):
        upi.decode(b"\xff\xff\xff")
    for answer in (None, {"a": 1}, upi.PredictValuesRequest()):
        with pytest.raises(UserCodeError) as raised:
            upi.encode(answer)
        assert "PredictValuesResponse" in raised.value.message
    assert upi.exception_details(ValueError("boom")) == "Unexpected <class 'ValueError'>: boom"
