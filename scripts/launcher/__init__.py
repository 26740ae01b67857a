"""The local CPU vLLM launcher behind ``scripts/vllm_local.py`` (standard library only).

Its manual is the docstring of ``scripts/vllm_local.py``. The modules, each importing only
those above it:

* ``specs``: the server table (``SPECS``, ``OLD_SPECS``) and the names it refers to.
* ``layout``: where things live (``Layout``) and each server on its port (``Server``).
* ``processes``: running a step, probing a port, reading ``/proc`` and pid files.
* ``venv``: installing the server venvs (current and older vLLM), the setup lock.
* ``models``: preparing the model folders.
* ``command_line``: each server's command line and environment.
* ``steps``: ``setup``, ``start``, ``stop``, ``status``, ``env``.
* ``cli``: the argument parser and ``main``.
"""
