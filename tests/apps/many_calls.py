"""An unchanged application: ``LLM_CALLS`` OpenAI calls (every third one streamed) to ``LLM_BASE_URL``."""

import os

import openai

client = openai.OpenAI(base_url=os.environ["LLM_BASE_URL"], api_key="sk-sample-app-key", max_retries=0)
for i in range(int(os.environ["LLM_CALLS"])):
    if i % 3 == 2:
        for _ in client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "go"}],
                                                stream=True, stream_options={"include_usage": True}):
            pass
    else:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"call {i}"}])
print("many calls done")
