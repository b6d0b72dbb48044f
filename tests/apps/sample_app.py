"""An unchanged application: two OpenAI calls (one streamed) to the server at ``LLM_BASE_URL``."""

import os

import openai

client = openai.OpenAI(base_url=os.environ["LLM_BASE_URL"], api_key="sk-sample-app-key", max_retries=0)
client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])
for _ in client.chat.completions.create(model="gpt-4o-mini", messages=[], stream=True,
                                        stream_options={"include_usage": True}):
    pass
print("sample app done")
