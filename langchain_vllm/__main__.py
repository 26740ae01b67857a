"""``python -m langchain_vllm doctor ...``: the ``langchain-vllm`` command line."""

from langchain_vllm.doctor import main

raise SystemExit(main())
