"""The seed example: translate with ChatVLLM() against a local vLLM, directly and in a chain.

Run with ``make demo`` (it starts the local CPU server first) or, against any vLLM server,
``VLLM_BASE_URL=http://host:8000/v1 uv run python scripts/demo.py``.
"""

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate

from langchain_vllm import ChatVLLM


def main() -> None:
    """Translate one sentence to Italian with messages, then to German with an LCEL chain."""
    llm = ChatVLLM()  # base URL, key and model all come from the server's defaults

    messages = [
        SystemMessage("You are a helpful assistant that translates English to Italian."),
        HumanMessage("Translate the following sentence: I love programming."),
    ]
    italian = llm.invoke(messages)
    print(f"[{llm.model_id}] Italian: {italian.text}")

    system = "You are a helpful assistant that translates {input_language} to {output_language}."
    prompt = ChatPromptTemplate.from_messages([("system", system), ("human", "{input}")])
    chain = prompt | llm
    german = chain.invoke(
        {"input_language": "English", "output_language": "German", "input": "I love programming."}
    )
    print(f"[{llm.model_id}] German: {german.text}")


if __name__ == "__main__":
    main()
