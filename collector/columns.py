"""Carbon attributes of many estimated GenAI calls at once: the gateway's calls, a request at a time.

The calls of one request that share a plan, an intensity reading and whether their cost is
ours to write (``keep_cost``) differ only by their token counts.  Their numbers are the fast
path's arithmetic (:func:`~otel_carbon.processors.fastpath.estimated_accelerator`,
:func:`~otel_carbon.processors.fastpath.layered_numbers`) applied to numpy arrays: the same
float operations, element by element, so each value equals the one-call computation to the
last bit (``tests/test_fast_path.py`` checks).  The attributes are then written for all the
calls at once: one record per call — the shared attributes' bytes, then each number's entry
prefix and its 8 bytes — so a call's bytes are a slice of one buffer.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from functools import lru_cache, reduce
from itertools import chain

from otel_carbon import sci
from otel_carbon import semconv as sc
from otel_carbon._extras import missing_extra
from otel_carbon.collector.wire import double_prefix, shared_wire
from otel_carbon.estimate.inference import TokenUsage, decode_tokens
from otel_carbon.footprint import listed_prices
from otel_carbon.intensity.reading import IntensityReading
from otel_carbon.processors.enrich import CallCarbon, CallPlan
from otel_carbon.processors.fastpath import NUMBER_KEYS, estimated_accelerator, layered_numbers

try:
    import numpy as np
except ModuleNotFoundError as exc:
    raise missing_extra("collector", exc, "costing a request's GenAI calls together") from exc

#: Fewer calls than this sharing a plan are costed one by one (numpy's per-operation cost would not pay off).
MIN_CALLS = 8


class CostedColumns:
    """The carbon of estimated calls sharing a plan, a reading and ``keep_cost``: per call, the protobuf
    bytes of its attributes, or ``None`` where a value would be non-finite or negative (the caller
    costs that call alone, which reports it)."""

    __slots__ = ("_buffer", "_keys", "_numbers", "_shared", "_usages", "_valid")

    def __init__(self, plan: CallPlan, reading: IntensityReading, keep_cost: bool, usages: Sequence[TokenUsage]) -> None:
        with np.errstate(all="ignore"):  # a non-finite value is no error here: the call is costed alone
            self._cost(plan, reading, keep_cost, usages)

    def _cost(self, plan: CallPlan, reading: IntensityReading, keep_cost: bool, usages: Sequence[TokenUsage]) -> None:
        basis = plan.basis
        flat = np.fromiter(chain.from_iterable(usages), dtype=np.float64, count=len(usages) * len(TokenUsage._fields))
        counts = TokenUsage(*flat.reshape(len(usages), -1).T)  # a column per count (exact: counts < 2**53)
        acc_l, acc_m, acc_h, embodied = estimated_accelerator(basis, decode_tokens(counts), counts.prefill)
        intensity = reading.g_per_kwh
        columns = list(layered_numbers(basis, (acc_l, acc_m, acc_h), None, embodied, intensity))
        checked = [*columns, intensity]
        keys: tuple[str, ...] = NUMBER_KEYS
        score = columns[9] if basis.functional_unit is sci.FunctionalUnit.REQUEST else sci.per_thousand_tokens(
            columns[9], counts.total)  # > 0: a call without tokens is not costed
        columns.append(score)
        checked.append(score)
        keys += (sc.SCI_SCORE,)
        prices = listed_prices(basis.match) if keep_cost and basis.priced else None
        if prices is not None:
            cost = prices.cost_usd(uncached_input=counts.billed_uncached_input, cached_input=counts.cached_input,
                                   cache_write=counts.cache_write, output=counts.output)
            columns.append(cost)
            checked.append(cost)
            keys += (sc.GEN_AI_USAGE_COST,)
        # As the one-call check: the sum, added left to right, is finite and the smallest term is >= 0.
        valid = np.isfinite(reduce(operator.add, checked)) & (reduce(np.minimum, checked) >= 0.0)
        self._valid = np.broadcast_to(valid, (len(usages),))
        self._keys = keys
        self._shared = plan.constants.at(reading)
        self._usages = usages
        template, layout = _record_layout(shared_wire(self._shared), keys)
        self._buffer = bytearray(template * len(usages))  # every call's record, one after the other
        records = np.frombuffer(self._buffer, dtype=layout)  # the numbers, written in place
        for index, column in enumerate(columns):
            records[f"v{index}"] = column
        self._numbers = records

    def attributes_wires(self) -> list[bytes | None]:
        """Per call, its encoded carbon attributes (``None``: cost that call alone)."""
        size, buffer = self._numbers.dtype.itemsize, bytes(self._buffer)
        return [buffer[start:start + size] if valid else None
                for start, valid in zip(range(0, len(buffer), size), self._valid.tolist())]

    def result(self, index: int) -> CallCarbon:
        """Call ``index``'s :class:`CallCarbon` (for the accountant), as the one-call path writes it."""
        values = self._numbers[index].tolist()
        return CallCarbon(self._shared | dict(zip(self._keys, values)), self._usages[index], self._shared)


@lru_cache(maxsize=256)
def _record_layout(shared: bytes, keys: tuple[str, ...]) -> tuple[bytes, np.dtype]:
    """One call's record, its numbers zeroed, and the numpy type that writes its numbers in place."""
    template, offsets = bytearray(shared), []
    for key in keys:
        template += double_prefix(key)
        offsets.append(len(template))
        template += bytes(8)
    layout = np.dtype({"names": [f"v{index}" for index in range(len(keys))], "formats": ["<f8"] * len(keys),
                       "offsets": offsets, "itemsize": len(template)})
    return bytes(template), layout
