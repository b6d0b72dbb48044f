"""Pure extractors: what a ``generate()`` or text-generation pipeline call asks for and produced.

Tensors are read by duck typing (``.shape``, ``.sum()``, comparison), so this
module imports neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from otel_carbon import semconv as sc
from otel_carbon.instrumentations._shared import Request, Response

TEXT_COMPLETION = "text_completion"
CHAT = "chat"

_PARAMETERS = (
    (sc.GEN_AI_REQUEST_MAX_TOKENS, "max_new_tokens"),
    (sc.GEN_AI_REQUEST_TEMPERATURE, "temperature"),
    (sc.GEN_AI_REQUEST_TOP_P, "top_p"),
)


def model_name(model: Any) -> str | None:
    """The model's hub id or local path; its ``model_type`` (e.g. ``gpt2``) when built from a config."""
    config = getattr(model, "config", None)
    name = getattr(model, "name_or_path", None) or getattr(config, "_name_or_path", None)
    if name:
        return str(name)
    model_type = getattr(config, "model_type", None)
    return str(model_type) if model_type else None


def _parameters(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Sampling parameters given as keywords, else on a ``generation_config`` keyword."""
    config = kwargs.get("generation_config")
    attributes: dict[str, Any] = {}
    for attribute, name in _PARAMETERS:
        value = kwargs.get(name, getattr(config, name, None) if config is not None else None)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = value
    return attributes


def generate_request(model: Any, kwargs: Mapping[str, Any]) -> Request:
    return Request(operation=TEXT_COMPLETION, provider=sc.PROVIDER_TRANSFORMERS, model=model_name(model), local=True,
                   attributes=_parameters(kwargs))


def pipeline_request(pipeline: Any, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Request:
    """A text-generation pipeline call: ``chat`` for message lists, ``text_completion`` for strings."""
    inputs = args[0] if args else kwargs.get("text_inputs")
    return Request(operation=CHAT if _is_chat(inputs) else TEXT_COMPLETION, provider=sc.PROVIDER_TRANSFORMERS,
                   model=model_name(getattr(pipeline, "model", None)), local=True, attributes=_parameters(kwargs))


def _is_chat(inputs: Any) -> bool:
    if isinstance(inputs, (list, tuple)) and inputs:
        first = inputs[0]
        if isinstance(first, Mapping):
            return "role" in first
        if isinstance(first, (list, tuple)) and first and isinstance(first[0], Mapping):
            return "role" in first[0]
    return False


def _prompt(args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    for key in ("input_ids", "inputs"):
        if kwargs.get(key) is not None:
            return kwargs[key]
    return args[0] if args else None


def token_counts(model: Any, args: Sequence[Any], kwargs: Mapping[str, Any], result: Any) -> tuple[int | None, int | None]:
    """(input tokens, generated tokens) of one ``generate()`` call; ``None`` where not countable.

    Input: the attention mask's ones (padding excluded), else every prompt id.
    Generated: ids after the prompt (decoder-only) or after the decoder start
    token (encoder-decoder), excluding the pad id where the model has one.
    """
    prompt = _prompt(args, kwargs)
    shape = getattr(prompt, "shape", None)
    if shape is None or len(shape) != 2:
        return None, None
    mask = kwargs.get("attention_mask")
    input_tokens = int(mask.sum()) if mask is not None else int(shape[0] * shape[1])
    sequences = getattr(result, "sequences", result)
    out_shape = getattr(sequences, "shape", None)
    if out_shape is None or len(out_shape) != 2:
        return input_tokens, None
    config = getattr(model, "config", None)
    new = sequences[:, 1:] if getattr(config, "is_encoder_decoder", False) else sequences[:, int(shape[1]):]
    generation_config = kwargs.get("generation_config") or getattr(model, "generation_config", None)
    pad = getattr(generation_config, "pad_token_id", None)
    output_tokens = int(new.numel()) if pad is None else int((new != pad).sum())
    return input_tokens, output_tokens


def generate_response(model: Any, args: Sequence[Any], kwargs: Mapping[str, Any], result: Any) -> Response:
    input_tokens, output_tokens = token_counts(model, args, kwargs, result)
    return Response(model=model_name(model), input_tokens=input_tokens, output_tokens=output_tokens)


class PipelineTokens:
    """Tokens of the ``generate()`` calls made inside one pipeline call."""

    def __init__(self, model: str | None) -> None:
        self.model = model
        self.input = 0
        self.output = 0
        self.counted = False

    def add(self, input_tokens: int | None, output_tokens: int | None) -> None:
        self.input += input_tokens or 0
        self.output += output_tokens or 0
        self.counted = self.counted or input_tokens is not None or output_tokens is not None

    def response(self) -> Response:
        if not self.counted:
            return Response(model=self.model)
        return Response(model=self.model, input_tokens=self.input, output_tokens=self.output)
