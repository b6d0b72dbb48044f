"""An unchanged app that logs everything (DEBUG) and makes one OpenAI call.

``remote``: to api.openai.com, its HTTP transport routing the connection to a loopback server (a
remote API call as otel-carbon sees it).  ``local``: an open-weights model on a loopback server
(local inference, measured).
"""

import logging
import sys

import openai

from otel_carbon.cli.demo import _loopback_client
from otel_carbon.cli.demo_server import LLMServer

logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s %(message)s")
with LLMServer() as server:
    if sys.argv[1] == "local":
        client = openai.OpenAI(base_url=server.url, api_key="sk-quiet", max_retries=0)
        model = "meta-llama/Llama-3.1-8B-Instruct"
    else:
        client = openai.OpenAI(api_key="sk-quiet", max_retries=0,
                               http_client=_loopback_client(openai, server.server_address[1]))
        model = "gpt-4o-mini"
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello"}])
print("quiet app done")
