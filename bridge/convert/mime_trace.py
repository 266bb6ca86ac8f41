"""X.400 trace -> RFC 822 trace fields (RFC 2156 §5.3.7, X-8; §5.3.8.3, R-5).

The gateway's own ``Received:`` first, then one ``X400-Received:`` per trace element, most
recent first; the trace and the internal trace are merged by position (:func:`merge_trace`).
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.convert.mime_run import Run
from bridge.convert.mime_text import (
    Header,
    date,
    dot_atom,
    eits,
    word,
)
from bridge.model.common import OtherActions, RoutingAction, TraceElement
from bridge.model.envelope import Envelope


def trace_value(el: TraceElement) -> str:
    """§5.3.7 x400-trace."""
    parts = ["by " + (f"mta {word(el.mta_name)} in " if el.mta_name else "") + str(el.domain)]
    if el.deferred_time is not None:
        parts.append("deferred until " + date(el.deferred_time))
    if el.converted_eits is not None:
        parts.append(f"converted ({eits(el.converted_eits)})")
    if el.attempted_domain is not None:
        parts.append(f"attempted MD {el.attempted_domain}")
    elif el.attempted_mta is not None:
        parts.append(f"attempted MTA {word(el.attempted_mta)}")
    actions = ["Rerouted" if el.routing_action == RoutingAction.REROUTED else "Relayed"]
    if el.other_actions & OtherActions.DL_OPERATION:
        actions.append("Expanded")
    if el.other_actions & OtherActions.REDIRECTED:
        actions.append("Redirected")
    parts.append(", ".join(actions))
    parts.append(date(el.arrival_time))
    return "; ".join(parts)


def merged_trace(env: Envelope) -> list[TraceElement]:
    """§5.3.7: the envelope's trace and internal trace as one list (:func:`merge_trace`)."""
    return merge_trace(env.trace, env.internal_trace)


def merge_trace(trace: Sequence[TraceElement], internal_trace: Sequence[TraceElement]
                ) -> list[TraceElement]:
    """§5.3.7: trace and internal trace merged into one chronological list, by position
    (never by time: "there is no guarantee of clock synchronisation").  The internal
    elements of a domain follow the last external element of that domain; an external element
    identical to an internal one except for the MTA is left out ("only the internal trace
    element shall be presented").  Used for messages and for reports (§5.3.8.3, R-5)."""
    internal = list(internal_trace)
    last_of = {el.domain: i for i, el in enumerate(trace)}
    out: list[TraceElement] = []
    for i, el in enumerate(trace):
        if last_of[el.domain] != i:
            out.append(el)
            continue
        mine = [t for t in internal if t.domain == el.domain]
        internal = [t for t in internal if t.domain != el.domain]
        if not any(_same_but_mta(t, el) for t in mine):
            out.append(el)
        out.extend(mine)
    return out + internal


def _same_but_mta(internal: TraceElement, external: TraceElement) -> bool:
    return (internal.arrival_time, internal.routing_action, internal.attempted_domain,
            internal.deferred_time, internal.converted_eits, internal.other_actions) == (
        external.arrival_time, external.routing_action, external.attempted_domain,
        external.deferred_time, external.converted_eits, external.other_actions)


def trace_headers(run: Run, env: Envelope) -> list[Header]:
    """§5.3.7: the gateway's own Received: first, then X400-Received, most recent first."""
    source = env.internal_trace[-1].mta_name if env.internal_trace else None
    own = (f"from {dot_atom(source or run.ctx.mta_name)} by {run.ctx.gateway_domain} "
           f"(MIXER Conversion following RFC 2156); {date(run.ctx.now)}")
    return [("Received", own), *(("X400-Received", trace_value(el))
                                 for el in reversed(merged_trace(env)))]
