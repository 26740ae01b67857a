"""``errors.py``: the one reading of a server's 404 (missing route or missing model)."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from langchain_vllm import errors
from langchain_vllm._http import httpx

ROUTE_MISSING = {"detail": "Not Found"}  # FastAPI's answer for a path vLLM did not mount
MODEL_MISSING = {  # vLLM's answer for an unknown model
    "error": {
        "message": "The model `nope` does not exist.",
        "type": "NotFoundError",
        "param": None,
        "code": 404,
    }
}


def not_found(body: dict[str, Any]) -> openai.NotFoundError:
    request = httpx.Request("POST", "http://localhost:8000/v1/rerank")
    response = httpx.Response(404, json=body, request=request)
    message = body["error"]["message"] if "error" in body else str(body)
    return openai.NotFoundError(message, response=response, body=body.get("error", body))


@pytest.mark.parametrize(("body", "what"), [(ROUTE_MISSING, "route"), (MODEL_MISSING, "model")])
def test_a_404_is_either_a_missing_route_or_a_missing_model(
    body: dict[str, Any], what: str
) -> None:
    assert errors.missing(not_found(body)) == what


def test_other_answers_say_nothing_is_missing() -> None:
    request = httpx.Request("POST", "http://localhost:8000/v1/chat/completions")
    body = {"message": "The model `m` does not exist."}
    refused = openai.BadRequestError(
        body["message"], response=httpx.Response(400, json=body, request=request), body=body
    )
    assert errors.missing(refused) is None
    assert errors.missing(not_found({"detail": "Something else"})) is None


def test_a_missing_lora_route_says_how_to_allow_runtime_updates() -> None:
    explained = errors.lora_error(not_found(ROUTE_MISSING), "load_lora_adapter")
    assert isinstance(explained, RuntimeError)
    assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING" in str(explained)
    other = not_found(MODEL_MISSING)
    assert errors.lora_error(other, "load_lora_adapter") is other
