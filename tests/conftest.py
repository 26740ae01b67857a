"""Shared pytest hooks: the VCR request matcher used by the standard-suite cassettes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.standard_suites import body_matcher

if TYPE_CHECKING:
    from vcr import VCR


def pytest_recording_configure(config: object, vcr: VCR) -> None:
    """Register the body matcher that ignores per-run ids (see ``body_matcher``)."""
    del config
    vcr.register_matcher("body_modulo_ids", body_matcher)
