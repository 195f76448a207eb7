"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest
from test_runner_support import RunnerFactory


@pytest.fixture
def make_runner(tmp_path):
    """Factory of JobRunners with real job processes; all are closed after the test."""
    factory = RunnerFactory(tmp_path)
    yield factory
    factory.cleanup()
