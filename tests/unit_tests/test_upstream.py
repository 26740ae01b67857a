"""ChatVLLM's hold on langchain-openai's private members, checked against the installed release.

Each failure names the member and the langchain-openai version, so an upgrade that breaks
ChatVLLM says where, instead of an AttributeError in a user's call.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.prompt_values import ChatPromptValue
from langchain_openai import ChatOpenAI
from langchain_openai.chat_models import base
from langchain_openai.chat_models.base import BaseChatOpenAI
from pydantic import SecretStr

from langchain_vllm import ChatVLLM, _upstream
from langchain_vllm._upstream import LANGCHAIN_OPENAI_VERSION, Member

_OWNERS: dict[str, Any] = {
    "BaseChatOpenAI": BaseChatOpenAI,
    "ChatOpenAI": ChatOpenAI,
    "BaseChatModel": BaseChatModel,
    "base": base,
}
_VERSION = f"langchain-openai {LANGCHAIN_OPENAI_VERSION}"


def _parameters(member: object, *, method: bool = True) -> tuple[str, ...] | None:
    """Parameter names after ``self`` (all of a ``method=False`` function); ``None`` for a
    property."""
    if isinstance(member, property):
        return None
    function: Any = getattr(member, "__func__", member)
    return tuple(inspect.signature(function).parameters)[1 if method else 0 :]


def _check(member: Member) -> None:
    owner = _OWNERS[member.owner]
    where = f"{member.owner}.{member.name}"
    if not member.expected():
        return
    if member.name not in vars(owner):
        pytest.fail(
            f"{_VERSION} has no {where} (ChatVLLM relies on it: {member.why}). "
            "Find what replaced it upstream and update langchain_vllm/_upstream.py."
        )
    found = _parameters(vars(owner)[member.name], method=member.owner != "base")
    matches = (
        found == member.parameters
        if member.exact
        else found is not None and set(member.parameters or ()) <= set(found)
    )
    if not matches:
        shape = "a property" if member.parameters is None else f"parameters {member.parameters}"
        now = "a property" if found is None else f"parameters {found}"
        pytest.fail(
            f"{_VERSION} changed {where}: ChatVLLM expects {shape}, it now has {now} "
            f"(ChatVLLM relies on it: {member.why})."
        )


@pytest.mark.parametrize("member", _upstream.CALLED, ids=lambda m: m.name)
def test_members_chatvllm_calls_are_there_with_their_shape(member: Member) -> None:
    _check(member)


@pytest.mark.parametrize("member", _upstream.OVERRIDDEN, ids=lambda m: f"{m.owner}.{m.name}")
def test_hooks_chatvllm_overrides_are_still_hooks_upstream(member: Member) -> None:
    assert member.name in vars(ChatVLLM), f"ChatVLLM no longer overrides {member.name}"
    _check(member)


def test_every_private_override_is_listed_in_upstream() -> None:
    # A private method ChatVLLM (or one of its mixins) defines that a base class also
    # defines is an override:
    # it belongs in _upstream.OVERRIDDEN (or is a replaced validator) so it is checked.
    listed = {m.name for m in _upstream.OVERRIDDEN} | set(_upstream.REPLACED_VALIDATORS)
    bases = ChatOpenAI.__mro__
    ours = [cls for cls in ChatVLLM.__mro__ if cls.__module__.startswith("langchain_vllm")]
    overrides = {
        name
        for cls in ours  # ChatVLLM and the field classes it is made of (sampling, reasoning)
        for name in vars(cls)
        if name.startswith("_")
        and not name.startswith("__")
        and any(name in vars(base) for base in bases)
    }
    overrides -= {"_abc_impl"}
    assert overrides <= listed, (
        f"ChatVLLM overrides {sorted(overrides - listed)} of {_VERSION}'s ChatOpenAI; "
        "list them in langchain_vllm/_upstream.OVERRIDDEN"
    )


def test_the_gateway_flag_is_read_without_relying_on_it() -> None:
    # From langchain-openai 1.6.0 a LangSmith key ("lsv2_…") routes through the gateway;
    # ChatVLLM then leaves the call to ChatOpenAI. Older releases have no gateway.
    gateway = ChatVLLM(api_key=SecretStr("lsv2_pt_x"))
    plain = ChatVLLM(api_key=SecretStr("vllm-key"))
    assert _upstream.uses_gateway(plain) is False
    expected = _upstream.version_tuple(LANGCHAIN_OPENAI_VERSION) >= (1, 6)
    assert _upstream.uses_gateway(gateway) is expected, (
        f"{_VERSION}: ChatOpenAI._uses_gateway no longer detects a LangSmith key"
    )
    assert gateway._route({}) == ("openai" if expected else "chat")
    assert plain._route({}) == "chat"


# ---------------------------------------------------------------- replaced validators


def _validator_function(cls: type, name: str) -> Any:
    decorator = cls.__pydantic_decorators__.model_validators.get(name)  # type: ignore[attr-defined]
    if decorator is None:
        return None
    return getattr(decorator.func, "__func__", decorator.func)


@pytest.mark.parametrize("name", sorted(_upstream.REPLACED_VALIDATORS))
def test_replaced_validator_exists_upstream_and_only_chatvllms_runs(name: str) -> None:
    since = _upstream.REPLACED_VALIDATORS[name]
    ours = vars(ChatVLLM)[name]
    ours = getattr(ours, "__func__", ours)
    # pydantic keeps one validator per name: the subclass's replaces the parent's.
    assert _validator_function(ChatVLLM, name) is ours, (
        f"ChatVLLM's {name} is not the validator pydantic runs ({_VERSION})"
    )
    if _upstream.version_tuple(LANGCHAIN_OPENAI_VERSION) < _upstream.version_tuple(since):
        return
    assert _validator_function(ChatOpenAI, name) is not None, (
        f"{_VERSION} has no ChatOpenAI model validator {name!r} any more: ChatVLLM's method of "
        "that name no longer replaces it, so the renamed parent validator now runs for "
        "ChatVLLM too. Find it and replace it under its new name (langchain_vllm/_upstream.py)."
    )


def test_every_parent_validator_is_either_replaced_or_meant_to_run() -> None:
    decorators = ChatOpenAI.__pydantic_decorators__
    parent = set(decorators.model_validators) | set(decorators.field_validators)
    decided = set(_upstream.REPLACED_VALIDATORS) | _upstream.INHERITED_VALIDATORS
    assert parent <= decided, (
        f"{_VERSION}'s ChatOpenAI has validators {sorted(parent - decided)} that run for "
        "ChatVLLM too, undecided. Decide: keep (langchain_vllm/_upstream.INHERITED_VALIDATORS) or "
        "replace (a ChatVLLM method of the same name, listed in REPLACED_VALIDATORS)."
    )


@pytest.mark.parametrize("model", ["gpt-5", "gpt-5-mini", "o1-mini"])
def test_openai_temperature_rules_do_not_run(model: str) -> None:
    # ChatOpenAI's validate_temperature drops temperature for gpt-5 names and sets 1 for o1.
    assert ChatVLLM(model=model, temperature=0.3).temperature == 0.3
    assert ChatVLLM(model=model).temperature is None


def test_openai_responses_routing_does_not_run() -> None:
    class RoutesToResponses(ChatVLLM):
        def _use_responses_api(self, payload: dict[str, Any]) -> bool:
            del payload
            return True

    # ChatOpenAI's _infer_use_responses_api would set use_responses_api=True here.
    assert RoutesToResponses(model="gpt-5-pro").use_responses_api is None


def test_openai_environment_validator_does_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_ORG_ID", "org-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("OPENAI_PROXY", "http://proxy.invalid:3128")
    llm = ChatVLLM()
    assert llm.openai_organization is None
    assert llm.openai_proxy is None
    assert llm.openai_api_key.get_secret_value() == "EMPTY"  # type: ignore[union-attr]


# ---------------------------------------------------------------- what replaced private calls


def test_inputs_become_messages_as_basechatmodel_converts_them() -> None:
    llm = ChatVLLM(model="m")
    as_text = llm._get_request_payload("hi")["messages"]
    as_tuples = llm._get_request_payload([("system", "be brief"), ("human", "hi")])["messages"]
    as_prompt = llm._get_request_payload(
        ChatPromptValue(messages=[SystemMessage("be brief"), HumanMessage("hi")])
    )["messages"]
    assert as_text == [{"role": "user", "content": "hi"}]
    assert as_tuples == as_prompt
    assert as_prompt == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


@pytest.mark.parametrize(
    ("field", "call", "model_kwargs", "expected"),
    [
        (True, {}, {}, True),
        (False, {}, {}, False),
        (False, {"stream_usage": True}, {}, True),
        (True, {"stream_options": {"include_usage": False}}, {}, False),
        (True, {}, {"stream_options": {"include_usage": False}}, False),
        (False, {"stream_usage": True, "stream_options": {"include_usage": False}}, {}, True),
        (None, {}, {}, False),
    ],
)
def test_stream_usage_follows_chatopenais_precedence(
    *, field: bool | None, call: dict[str, Any], model_kwargs: dict[str, Any], expected: bool
) -> None:
    llm = ChatVLLM(model="m", stream_usage=field, model_kwargs=model_kwargs)
    payload = llm._stream_payload([HumanMessage("hi")], None, dict(call))
    assert ("stream_options" in payload and payload["stream_options"]["include_usage"]) is expected


async def test_async_only_key_explains_sync_calls() -> None:
    async def key() -> str:
        return "k"

    llm = ChatVLLM(model="m", api_key=key)
    with pytest.raises(ValueError, match="async callable"):
        llm.server_version()
