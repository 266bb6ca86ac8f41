"""MTS-APDU (X.419 / X.411 §12 MTAAbstractService) codec values <-> model.

Message, Probe and Report transfer envelopes, per-recipient fields, trace and internal trace,
encoded information types.  The ASN.1 work itself is in :mod:`bridge.codec.asn1`.
"""

from __future__ import annotations

from typing import Any

from bridge.codec.extensions import extensions_from, extensions_to
from bridge.codec.orname import gdi_from, gdi_to, orname_from, orname_to
from bridge.codec.values import (
    bits_to_int,
    decode_utctime,
    encode_utctime,
    int_to_bits,
)
from bridge.errors import EncodeError
from bridge.model.apdu import APDU, Message, Probe
from bridge.model.common import (
    ContentType,
    EncodedInformationTypes,
    GlobalDomainIdentifier,
    MTSIdentifier,
    Opaque,
    OtherActions,
    Priority,
    RoutingAction,
    TraceElement,
)
from bridge.model.envelope import (
    BilateralInformation,
    Envelope,
    PerMessageIndicators,
    PerRecipientIndicators,
    Recipient,
)
from bridge.model.report import (
    DeliveryOutcome,
    NonDeliveryOutcome,
    Report,
    ReportedRecipient,
)

_PRIORITIES = ("normal", "non-urgent", "urgent")
_ROUTING = ("relayed", "rerouted")

# X.411 §12.2.1.1.1.16: PerRecipientIndicators has at least 8 bits (ASN1-NOTES bug 7)
_PRI_MIN_BITS = 8


# ---------------------------------------------------------------------------- pieces


def mts_id_from(v: dict[str, Any]) -> MTSIdentifier:
    return MTSIdentifier(domain=gdi_from(v["global-domain-identifier"]),
                         local=v["local-identifier"])


def mts_id_to(m: MTSIdentifier) -> dict[str, Any]:
    return {"global-domain-identifier": gdi_to(m.domain), "local-identifier": m.local}


def content_type_from(v: tuple[str, Any]) -> ContentType:
    return v[1] if v[0] == "built-in" else str(v[1])


def content_type_to(c: ContentType) -> tuple[str, Any]:
    return ("built-in", c) if isinstance(c, int) else ("extended", c)


def eits_from(v: dict[str, Any]) -> EncodedInformationTypes:
    """X.411 §18.3.2 EncodedInformationTypes."""
    builtin = bits_to_int(v["built-in-encoded-information-types"])
    g3 = v.get("g3-facsimile")
    tt = v.get("teletex")
    return EncodedInformationTypes(
        builtin=frozenset(n for n in range(builtin.bit_length()) if builtin >> n & 1),
        extended=tuple(v.get("extended-encoded-information-types", ())),
        g3_facsimile=frozenset(n for n in range(bits_to_int(g3).bit_length())
                               if bits_to_int(g3) >> n & 1) if g3 is not None else None,
        teletex=Opaque(ber=_teletex_params_ber(tt)) if tt is not None else None,
    )


def _teletex_params_ber(v: dict[str, Any]) -> bytes:
    from bridge.codec import asn1

    return asn1.encode("TeletexNonBasicParameters", v)


def eits_to(e: EncodedInformationTypes) -> dict[str, Any]:
    out: dict[str, Any] = {
        "built-in-encoded-information-types": int_to_bits(sum(1 << n for n in e.builtin))}
    if e.g3_facsimile is not None:
        out["g3-facsimile"] = int_to_bits(sum(1 << n for n in e.g3_facsimile))
    if e.teletex is not None:
        from bridge.codec import asn1

        out["teletex"] = asn1.decode("TeletexNonBasicParameters", e.teletex.ber)
    if e.extended:
        out["extended-encoded-information-types"] = list(e.extended)
    return out


def trace_from(v: list[dict[str, Any]], *, internal: bool = False) -> tuple[TraceElement, ...]:
    """X.411 §12.2.1.1.1.12/13 TraceInformation or InternalTraceInformation -> model."""
    out = []
    for el in v:
        info = el["mta-supplied-information" if internal else "domain-supplied-information"]
        kw: dict[str, Any] = {
            "domain": gdi_from(el["global-domain-identifier"]),
            "arrival_time": decode_utctime(info["arrival-time"]),
            "routing_action": RoutingAction(_ROUTING.index(info["routing-action"])),
        }
        if internal:
            kw["mta_name"] = el["mta-name"]
            if "attempted" in info:
                alt, att = info["attempted"]
                if alt == "mta":
                    kw["attempted_mta"] = att
                else:
                    kw["attempted_domain"] = gdi_from(att)
        elif "attempted-domain" in info:
            kw["attempted_domain"] = gdi_from(info["attempted-domain"])
        if "deferred-time" in info:
            kw["deferred_time"] = decode_utctime(info["deferred-time"])
        if "converted-encoded-information-types" in info:
            kw["converted_eits"] = eits_from(info["converted-encoded-information-types"])
        if "other-actions" in info:
            kw["other_actions"] = OtherActions(bits_to_int(info["other-actions"]))
        out.append(TraceElement(**kw))
    return tuple(out)


def trace_to(trace: tuple[TraceElement, ...], *, internal: bool = False) -> list[dict[str, Any]]:
    out = []
    for t in trace:
        info: dict[str, Any] = {"arrival-time": encode_utctime(t.arrival_time),
                                "routing-action": _ROUTING[t.routing_action]}
        if internal:
            if t.attempted_mta is not None:
                info["attempted"] = ("mta", t.attempted_mta)
            elif t.attempted_domain is not None:
                info["attempted"] = ("domain", gdi_to(t.attempted_domain))
        elif t.attempted_domain is not None:
            info["attempted-domain"] = gdi_to(t.attempted_domain)
        if t.deferred_time is not None:
            info["deferred-time"] = encode_utctime(t.deferred_time)
        if t.converted_eits is not None:
            info["converted-encoded-information-types"] = eits_to(t.converted_eits)
        if t.other_actions:
            info["other-actions"] = int_to_bits(int(t.other_actions))
        el: dict[str, Any] = {"global-domain-identifier": gdi_to(t.domain)}
        if internal:
            el["mta-name"] = t.mta_name or ""
            el["mta-supplied-information"] = info
        else:
            el["domain-supplied-information"] = info
        out.append(el)
    return out


def _bilateral_from(v: dict[str, Any]) -> BilateralInformation:
    from bridge.codec.values import numeric_or_printable

    alt, dom = v["domain"]
    if alt == "administration-domain-name":
        admd, prmd = numeric_or_printable(dom), None
    else:
        admd = numeric_or_printable(dom["administration-domain-name"])
        prmd = numeric_or_printable(dom["private-domain-identifier"])
    return BilateralInformation(country=numeric_or_printable(v["country-name"]), admd=admd,
                                prmd=prmd, information=Opaque(ber=v["bilateral-information"]))


def _bilateral_to(b: BilateralInformation) -> dict[str, Any]:
    g = gdi_to(GlobalDomainIdentifier(country=b.country or "", admd=b.admd or "", prmd=b.prmd))
    dom: tuple[str, Any]
    if b.prmd is None:
        dom = ("administration-domain-name", g["administration-domain-name"])
    else:
        dom = ("private-domain", {"administration-domain-name": g["administration-domain-name"],
                                  "private-domain-identifier": g["private-domain-identifier"]})
    return {"country-name": g["country-name"], "domain": dom,
            "bilateral-information": b.information.ber}


# ---------------------------------------------------------------------------- envelopes


def _recipient_from(v: dict[str, Any]) -> Recipient:
    return Recipient(
        name=orname_from(v["recipient-name"]),
        number=v["originally-specified-recipient-number"],
        indicators=PerRecipientIndicators(bits_to_int(v["per-recipient-indicators"])),
        explicit_conversion=v.get("explicit-conversion"),
        extensions=extensions_from(v.get("extensions")),
    )


def _recipient_to(r: Recipient) -> dict[str, Any]:
    out: dict[str, Any] = {
        "recipient-name": orname_to(r.name),
        "originally-specified-recipient-number": r.number,
        "per-recipient-indicators": int_to_bits(int(r.indicators), min_bits=_PRI_MIN_BITS),
    }
    if r.explicit_conversion is not None:
        out["explicit-conversion"] = r.explicit_conversion
    if r.extensions:
        out["extensions"] = extensions_to(r.extensions)
    return out


def envelope_from(v: dict[str, Any], *, probe: bool = False) -> Envelope:
    """X.411 §12.2.1.1 MessageTransferEnvelope or §12.2.1.3 ProbeTransferEnvelope -> model."""
    return Envelope(
        identifier=mts_id_from(v["probe-identifier" if probe else "message-identifier"]),
        originator=orname_from(v["originator-name"]),
        content_type=content_type_from(v["content-type"]),
        recipients=tuple(_recipient_from(r) for r in v["per-recipient-fields"]),
        trace=trace_from(v["trace-information"]),
        original_eits=eits_from(v["original-encoded-information-types"])
        if "original-encoded-information-types" in v else None,
        content_identifier=v.get("content-identifier"),
        priority=Priority(_PRIORITIES.index(v.get("priority", "normal"))),
        indicators=PerMessageIndicators(bits_to_int(v["per-message-indicators"]))
        if "per-message-indicators" in v else PerMessageIndicators.NONE,
        deferred_delivery_time=decode_utctime(v["deferred-delivery-time"])
        if "deferred-delivery-time" in v else None,
        bilateral=tuple(_bilateral_from(b) for b in v.get("per-domain-bilateral-information", ())),
        extensions=extensions_from(v.get("extensions")),
        content_length=v.get("content-length"),
    )


def envelope_to(e: Envelope, *, probe: bool = False) -> dict[str, Any]:
    if probe and (e.priority != Priority.NORMAL or e.deferred_delivery_time is not None):
        # X.411 §12.2.1.3: PerProbeTransferFields has neither field; refuse rather than drop
        raise EncodeError("a probe envelope carries no priority or deferred-delivery-time")
    if not probe and e.content_length is not None:
        raise EncodeError("content-length belongs to probe envelopes only (X.411 §12.2.1.3)")
    out: dict[str, Any] = {
        "probe-identifier" if probe else "message-identifier": mts_id_to(e.identifier),
        "originator-name": orname_to(e.originator),
        "content-type": content_type_to(e.content_type),
        "trace-information": trace_to(e.trace),
        "per-recipient-fields": [_recipient_to(r) for r in e.recipients],
    }
    if e.original_eits is not None:
        out["original-encoded-information-types"] = eits_to(e.original_eits)
    if e.content_identifier is not None:
        out["content-identifier"] = e.content_identifier
    if e.priority != Priority.NORMAL:
        out["priority"] = _PRIORITIES[e.priority]
    if e.indicators:
        out["per-message-indicators"] = int_to_bits(int(e.indicators))
    if probe:
        if e.content_length is not None:
            out["content-length"] = e.content_length
    elif e.deferred_delivery_time is not None:
        out["deferred-delivery-time"] = encode_utctime(e.deferred_delivery_time)
    if e.bilateral:
        out["per-domain-bilateral-information"] = [_bilateral_to(b) for b in e.bilateral]
    if e.extensions:
        out["extensions"] = extensions_to(e.extensions)
    return out


# ---------------------------------------------------------------------------- reports


def _reported_from(v: dict[str, Any]) -> ReportedRecipient:
    last = v["last-trace-information"]
    alt, rt = last["report-type"]
    outcome: DeliveryOutcome | NonDeliveryOutcome
    if alt == "delivery":
        outcome = DeliveryOutcome(delivery_time=decode_utctime(rt["message-delivery-time"]),
                                  type_of_user=rt.get("type-of-MTS-user", 0))
    else:
        outcome = NonDeliveryOutcome(reason=rt["non-delivery-reason-code"],
                                     diagnostic=rt.get("non-delivery-diagnostic-code"))
    oir = v.get("originally-intended-recipient-name")
    return ReportedRecipient(
        actual_recipient=orname_from(v["actual-recipient-name"]),
        number=v["originally-specified-recipient-number"],
        indicators=PerRecipientIndicators(bits_to_int(v["per-recipient-indicators"])),
        arrival_time=decode_utctime(last["arrival-time"]),
        outcome=outcome,
        converted_eits=eits_from(last["converted-encoded-information-types"])
        if "converted-encoded-information-types" in last else None,
        originally_intended_recipient=orname_from(oir) if oir is not None else None,
        supplementary_information=v.get("supplementary-information"),
        extensions=extensions_from(v.get("extensions")),
    )


def _reported_to(r: ReportedRecipient) -> dict[str, Any]:
    rt: tuple[str, Any]
    if isinstance(r.outcome, DeliveryOutcome):
        d: dict[str, Any] = {"message-delivery-time": encode_utctime(r.outcome.delivery_time)}
        if r.outcome.type_of_user:
            d["type-of-MTS-user"] = int(r.outcome.type_of_user)
        rt = ("delivery", d)
    else:
        nd: dict[str, Any] = {"non-delivery-reason-code": int(r.outcome.reason)}
        if r.outcome.diagnostic is not None:
            nd["non-delivery-diagnostic-code"] = int(r.outcome.diagnostic)
        rt = ("non-delivery", nd)
    last: dict[str, Any] = {"arrival-time": encode_utctime(r.arrival_time), "report-type": rt}
    if r.converted_eits is not None:
        last["converted-encoded-information-types"] = eits_to(r.converted_eits)
    out: dict[str, Any] = {
        "actual-recipient-name": orname_to(r.actual_recipient),
        "originally-specified-recipient-number": r.number,
        "per-recipient-indicators": int_to_bits(int(r.indicators), min_bits=_PRI_MIN_BITS),
        "last-trace-information": last,
    }
    if r.originally_intended_recipient is not None:
        out["originally-intended-recipient-name"] = orname_to(r.originally_intended_recipient)
    if r.supplementary_information is not None:
        out["supplementary-information"] = r.supplementary_information
    if r.extensions:
        out["extensions"] = extensions_to(r.extensions)
    return out


def report_from(v: dict[str, Any]) -> Report:
    """X.411 §12.2.1.2 Report -> model."""
    env, content = v["envelope"], v["content"]
    sit = content.get("subject-intermediate-trace-information")
    return Report(
        identifier=mts_id_from(env["report-identifier"]),
        destination=orname_from(env["report-destination-name"]),
        trace=trace_from(env["trace-information"]),
        envelope_extensions=extensions_from(env.get("extensions")),
        subject_identifier=mts_id_from(content["subject-identifier"]),
        subject_intermediate_trace=trace_from(sit) if sit is not None else None,
        original_eits=eits_from(content["original-encoded-information-types"])
        if "original-encoded-information-types" in content else None,
        content_type=content_type_from(content["content-type"])
        if "content-type" in content else None,
        content_identifier=content.get("content-identifier"),
        returned_content=content.get("returned-content"),
        additional_information=content.get("additional-information"),
        extensions=extensions_from(content.get("extensions")),
        recipients=tuple(_reported_from(r) for r in content["per-recipient-fields"]),
    )


def report_to(r: Report) -> dict[str, Any]:
    env: dict[str, Any] = {
        "report-identifier": mts_id_to(r.identifier),
        "report-destination-name": orname_to(r.destination),
        "trace-information": trace_to(r.trace),
    }
    if r.envelope_extensions:
        env["extensions"] = extensions_to(r.envelope_extensions)
    content: dict[str, Any] = {
        "subject-identifier": mts_id_to(r.subject_identifier),
        "per-recipient-fields": [_reported_to(x) for x in r.recipients],
    }
    if r.subject_intermediate_trace is not None:
        content["subject-intermediate-trace-information"] = trace_to(r.subject_intermediate_trace)
    if r.original_eits is not None:
        content["original-encoded-information-types"] = eits_to(r.original_eits)
    if r.content_type is not None:
        content["content-type"] = content_type_to(r.content_type)
    if r.content_identifier is not None:
        content["content-identifier"] = r.content_identifier
    if r.returned_content is not None:
        content["returned-content"] = r.returned_content
    if r.additional_information is not None:
        content["additional-information"] = r.additional_information
    if r.extensions:
        content["extensions"] = extensions_to(r.extensions)
    return {"envelope": env, "content": content}


# ---------------------------------------------------------------------------- MTS-APDU


def apdu_from(v: tuple[str, Any]) -> APDU:
    """X.419 MTS-APDU -> Message | Probe | Report."""
    alt, body = v
    if alt == "message":
        return Message(envelope=envelope_from(body["envelope"]), content=body["content"])
    if alt == "probe":
        return Probe(envelope=envelope_from(body, probe=True))
    return report_from(body)


def apdu_to(apdu: APDU) -> tuple[str, Any]:
    if isinstance(apdu, Message):
        return ("message", {"envelope": envelope_to(apdu.envelope), "content": apdu.content})
    if isinstance(apdu, Probe):
        return ("probe", envelope_to(apdu.envelope, probe=True))
    return ("report", report_to(apdu))


