"""Fixtures shared across test modules."""

import pytest

from otel_carbon.cli.demo_server import LLMServer


@pytest.fixture(scope="session")
def llm_server():
    """One loopback server speaking the OpenAI and Anthropic APIs for the whole run."""
    with LLMServer() as server:
        yield server
