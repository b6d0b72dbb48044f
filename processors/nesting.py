"""One call, one figure: which GenAI span of a call is counted when several instrumentations wrap it.

Several instrumentations can trace one model call — ours, the SDK's own tracing
(anthropic ≥ 2.15), the official genai packages, OpenLLMetry, LiteLLM — and each
opens a GenAI span *nested* in the others (same trace, parent and child).  The
rule, the same in the span processor and in the gateway (SDK-free, on ids):

1. a span already counted by our instrumentation (``sci.counted=true``, written
   at the end of the call) stays counted;
2. a GenAI span with a GenAI child is not counted (the child is closer to the wire:
   the same call, or a retry / fan-out made by the outer layer, each counted);
3. a GenAI span below a span of rule 1 is not counted.

So a nest counts once: our span if it has one, else its innermost span.  The
spans not counted get ``sci.counted=false`` and ``sci.carbon.status=duplicate``.

The memory is bounded (``capacity`` span ids, oldest forgotten first).  Spans are
noted as they end (in-process) or arrive (gateway); an inner span usually ends
first, and when an outer one comes first it is counted and the inner one is then
the duplicate — one count either way (see :meth:`CallNests.note`).  In-process, a
span that *starts* inside a call our instrumentation counts is known to be a
duplicate from its start (``otel_carbon.accounting.INSIDE_COUNTED_CALL``), whatever
order the spans end in.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

SpanKey = tuple[int, int]  # (trace id, span id)

#: Spans remembered by default (in-process the live spans; at the gateway, recent ones).
DEFAULT_CAPACITY = 100_000


class CallNests:
    """The GenAI spans seen recently: their GenAI parents, which have a GenAI child, which are counted.

    Thread-safe.  :meth:`note` every GenAI span (in-process at its start, at the
    gateway for a whole batch) before asking :meth:`is_duplicate` about any.
    """

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._capacity = capacity
        self._parent_of: OrderedDict[SpanKey, SpanKey | None] = OrderedDict()
        self._has_genai_child: OrderedDict[SpanKey, None] = OrderedDict()
        self._counted: set[SpanKey] = set()
        self._lock = threading.Lock()

    def note(self, trace_id: int, span_id: int, parent_id: int | None, *, counted: bool = False) -> None:
        """Record a GenAI span; ``counted`` when it carries ``sci.counted=true`` from our instrumentation.

        At the gateway the spans of one call may arrive in different batches.
        When the inner span arrives in the same batch as the outer one or earlier
        (the usual order: the inner span ends first), the outer one is recognised as a
        duplicate exactly as in-process.  When an outer span arrives in an earlier
        batch, it was counted on arrival and the inner one is then the duplicate:
        still one count for the call.
        """
        self.note_all(((trace_id, span_id, parent_id, counted),))

    def note_all(self, spans: Iterable[tuple[int, int, int | None, bool]]) -> None:
        """:meth:`note` each ``(trace id, span id, parent id, counted)`` of ``spans`` (a batch), at once."""
        parent_of, has_genai_child, counted_spans = self._parent_of, self._has_genai_child, self._counted
        with self._lock:
            for trace_id, span_id, parent_id, counted in spans:
                key = (trace_id, span_id)
                if parent_id:
                    parent = (trace_id, parent_id)
                    has_genai_child[parent] = None
                    has_genai_child.move_to_end(parent)
                    parent_of[key] = parent
                else:
                    parent_of[key] = None
                parent_of.move_to_end(key)
                if counted:
                    counted_spans.add(key)
            if len(parent_of) > self._capacity or len(has_genai_child) > self._capacity:
                self._trim()

    def mark_counted(self, trace_id: int, span_id: int) -> None:
        """Record that this span was counted (its later-arriving inner spans are then duplicates)."""
        with self._lock:
            self._counted.add((trace_id, span_id))

    def unmark_counted(self, keys: Iterable[SpanKey]) -> None:
        """Forget that the spans ``keys`` were counted (claimed by :meth:`claim`, then not counted after all)."""
        with self._lock:
            self._counted.difference_update(keys)

    def is_duplicate(self, trace_id: int, span_id: int) -> bool:
        """Whether the span duplicates a counted span of its call (rules 2 and 3 of the module docstring)."""
        return self.claim((((trace_id, span_id), False),))[0]

    def claim(self, spans: Iterable[tuple[SpanKey, bool]]) -> list[bool]:
        """For each ``(span key, countable)`` of a batch, in order, whether the span is a duplicate
        (:meth:`is_duplicate`); a countable span that is not is marked counted before the next one is
        judged, as judging and counting span by span would.  One lock for the batch: no other batch
        is judged in between (two batches holding an outer and an inner span of one call count it once)."""
        parent_of, has_genai_child, counted_spans = self._parent_of, self._has_genai_child, self._counted
        duplicates = []
        with self._lock:
            for key, countable in spans:
                if key in counted_spans:
                    duplicate = False
                elif key in has_genai_child:  # rule 2
                    duplicate = True
                else:  # rule 3: below a counted span (walked up to _MAX_DEPTH GenAI parents)
                    duplicate, ancestor = False, parent_of.get(key)
                    for _ in range(_MAX_DEPTH):
                        if ancestor is None:
                            break
                        if ancestor in counted_spans:
                            duplicate = True
                            break
                        ancestor = parent_of.get(ancestor)
                    if countable and not duplicate:
                        counted_spans.add(key)
                duplicates.append(duplicate)
        return duplicates

    def _trim(self) -> None:
        while len(self._parent_of) > self._capacity:
            key, _ = self._parent_of.popitem(last=False)
            self._counted.discard(key)
        while len(self._has_genai_child) > self._capacity:
            self._has_genai_child.popitem(last=False)


#: GenAI nests deeper than this are not walked further (a guard against cyclic ids from a bad sender).
_MAX_DEPTH = 16
