"""vLLM's sampling fields, typed, checked before any request, shared by every vLLM model class.

Besides OpenAI's ``temperature``/``top_p``/penalties/``seed``/``logprobs``, vLLM reads its own
sampling and request fields from the body. ``VLLMSamplingParams`` declares them once; the model
classes send them in ``extra_body`` (a user's own ``extra_body`` values win) and accept the same
names per call (``llm.invoke(msgs, top_k=20)``, ``llm.bind(min_p=0.05)``).
"""

from langchain_vllm._request import VLLMSamplingParams, check_sampling

__all__ = ["VLLMSamplingParams", "check_sampling"]
