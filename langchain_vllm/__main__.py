"""``python -m langchain_vllm doctor ...``: the ``langchain-vllm`` command line."""

from langchain_vllm.cli import main

raise SystemExit(main())
