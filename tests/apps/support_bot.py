"""A small app with its own tests, for the carbon-gate end-to-end test (tests/test_gates_pytest_plugin.py).

The files below are written into a pytester folder as they are.  The app answers
support questions with the real ``openai`` SDK; its design choices are read from
the environment so that a test can ship a worse design without editing code:
``APP_MODEL`` (the model), ``APP_CACHE_FRIENDLY`` (``0``: a request id is put in
front of the system prompt, which defeats the provider's prompt cache),
``APP_MAX_TOKENS`` (empty: output length uncapped).  The SDK believes it talks
to ``api.openai.com``; a transport routes the connection to ``APP_LLM_PORT``.
"""

APP = '''
import itertools
import os

SYSTEM = "You are the support assistant of ExampleCo. Answer from the policy below.\\n" + (
    "Refunds are accepted within 30 days with a receipt. Shipping takes 3 to 5 working days. " * 60
)
_ids = itertools.count()


def answer(client, question):
    system = SYSTEM
    if os.environ.get("APP_CACHE_FRIENDLY", "1") == "0":
        system = f"[request {next(_ids)}] " + SYSTEM
    options = {}
    if os.environ.get("APP_MAX_TOKENS", "64"):
        options["max_tokens"] = int(os.environ.get("APP_MAX_TOKENS", "64"))
    reply = client.chat.completions.create(
        model=os.environ.get("APP_MODEL", "gpt-4o-mini"),
        messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
        **options,
    )
    return reply.choices[0].message.content
'''

CONFTEST = '''
import importlib
import os

import openai
import pytest


class ToLoopback:
    """An httpx transport that sends every request to the loopback server's port."""

    def __init__(self, port, inner):
        self._port = port
        self._inner = inner

    def handle_request(self, request):
        request.url = request.url.copy_with(scheme="http", host="127.0.0.1", port=self._port)
        return self._inner.handle_request(request)

    def close(self):
        self._inner.close()


@pytest.fixture
def client():
    httpx = importlib.import_module(openai.DefaultHttpxClient.__mro__[1].__module__.partition(".")[0])
    transport = ToLoopback(int(os.environ["APP_LLM_PORT"]), httpx.HTTPTransport())
    with openai.OpenAI(api_key="test-key", max_retries=0,
                       http_client=openai.DefaultHttpxClient(transport=transport)) as client:
        yield client
'''

TESTS = '''
from app import answer


def test_refund_question(client):
    assert answer(client, "Can I get a refund after two weeks?")


def test_follow_up_conversation(client):
    assert answer(client, "Where is my parcel?")
    assert answer(client, "And how long does shipping take?")


def test_policy_text_is_loaded():
    from app import SYSTEM
    assert "Refunds" in SYSTEM
'''
