"""An unchanged application whose calls carry the ``app.feature`` baggage entry (as a web framework's
propagated baggage would): ``LLM_CALLS`` OpenAI calls to ``LLM_BASE_URL``, alternating two features.

Feature ``summarise`` calls ``gpt-4o-mini`` and ``search`` calls ``gpt-4o``, so that a test can tell the
features apart on the exported spans by model.
"""

import os

import openai
from opentelemetry import baggage, context

client = openai.OpenAI(base_url=os.environ["LLM_BASE_URL"], api_key="sk-ledger-app-key", max_retries=0)
for i in range(int(os.environ["LLM_CALLS"])):
    feature, model = ("summarise", "gpt-4o-mini") if i % 2 == 0 else ("search", "gpt-4o")
    token = context.attach(baggage.set_baggage("app.feature", feature))
    try:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"call {i}"}])
    finally:
        context.detach(token)
print("ledger app done")
