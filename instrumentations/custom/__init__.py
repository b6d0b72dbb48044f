"""Trace a model call of an SDK otel-carbon does not cover, so that it is counted like ours.

    from otel_carbon.instrumentations.custom import model_call

    with model_call("my_provider", "my-model-7b", server_address="llm.internal") as call:
        reply = my_sdk.generate(prompt)
        call.record(input_tokens=reply.usage.prompt, output_tokens=reply.usage.completion,
                    response_model=reply.model)

The block is one GenAI span (``gen_ai.*`` names, our instrumentation scope), counted at its end by
the process's accountant — sampled or not, exactly like the built-in instrumentations — with its
carbon written on the span.  An exception leaving the block is recorded on the span and re-raised.
A call made inside the block through one of our instrumentations gets no second span.
A local endpoint (loopback) gets an energy window, as the built-in instrumentations do.
"""

from otel_carbon.instrumentations.custom.call import ModelCall, model_call

__all__ = ["ModelCall", "model_call"]
