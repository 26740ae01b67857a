"""The docs harness compares what a page shows with what a run printed."""

from __future__ import annotations

from tests.doc_pages import same_output


def test_decimals_on_a_rounding_boundary_count_as_equal() -> None:
    assert same_output("0.7725 Paris\n0.4118 Eiffel", "0.7725 Paris\n0.4117 Eiffel")
    assert same_output("384 [0.082, 0.0361, -0.0039]", "384 [0.082, 0.036, -0.0039]")


def test_other_differences_still_count() -> None:
    assert not same_output("0.41 Eiffel", "0.43 Eiffel")
    assert not same_output("Paris 1.5", "Rome 1.5")
    assert not same_output("1.5 2.5", "1.5")
    assert not same_output("384 dims", "385 dims")
    assert same_output("id chatcmpl-0123456789ab", "id chatcmpl-ba9876543210")
