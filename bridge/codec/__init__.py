"""BER bytes <-> model for X.419 MTS-APDUs and X.420 P22 content.

``asn1`` is the one module that touches the ASN.1 library; ``p1``/``p22`` (+ their extension
registries) convert its plain values to and from :mod:`bridge.model`.  Every failure is a
:class:`~bridge.errors.DecodeError` (with component path and byte offset) or
:class:`~bridge.errors.EncodeError` — never another exception.
"""

from __future__ import annotations

import dataclasses

from bridge.codec import repairs
from bridge.errors import DecodeError, EncodeError
from bridge.model.apdu import APDU
from bridge.model.ipm import IPM, IPN

_MODEL_ERRORS = (KeyError, ValueError, TypeError, IndexError, AttributeError, AssertionError,
                 RecursionError)


def decode_apdu(data: bytes) -> APDU:
    """Decode a BER ``MTS-APDU`` (X.419): a Message, Probe or Report.

    Forms real MTAs send outside the standard (8-bit octets in IA5String, three-digit UTCTime
    years) are repaired; the notes are on the result's ``repairs``
    (:mod:`bridge.codec.repairs`).
    """
    from bridge.codec import asn1, p1

    with repairs.collecting() as notes:
        value = asn1.decode("MTS-APDU", data)
        try:
            apdu = p1.apdu_from(value)
        except DecodeError as exc:
            raise DecodeError(exc.reason, path=exc.path or "MTS-APDU",
                              offset=exc.offset) from exc
        except _MODEL_ERRORS as exc:
            raise DecodeError(f"invalid value: {exc!r}", path="MTS-APDU") from exc
    return dataclasses.replace(apdu, repairs=tuple(notes)) if notes else apdu


def encode_apdu(apdu: APDU, *, extension_form: str = "1992") -> bytes:
    """Encode a Message, Probe or Report as a BER ``MTS-APDU``.

    ``extension_form`` "1988" writes every ExtensionField type in the X.411 (1988) form a peer
    of that edition takes (:data:`bridge.codec.extensions.ExtensionForm`).
    """
    from bridge.codec import asn1, p1
    from bridge.codec.extensions import extension_form as form

    try:
        with form(extension_form):  # type: ignore[arg-type]
            value = p1.apdu_to(apdu)
    except EncodeError:
        raise
    except _MODEL_ERRORS as exc:
        raise EncodeError(f"cannot encode {type(apdu).__name__}: {exc!r}") from exc
    return asn1.encode("MTS-APDU", value)


def decode_content(data: bytes) -> IPM | IPN:
    """Decode bare P22 content: an X.420 ``InformationObject`` (IPM or IPN)."""
    from bridge.codec import asn1, p22

    value = asn1.decode("InformationObject", data)
    try:
        return p22.information_object_from(value)
    except DecodeError as exc:
        raise DecodeError(exc.reason, path=exc.path or "InformationObject",
                          offset=exc.offset) from exc
    except _MODEL_ERRORS as exc:
        raise DecodeError(f"invalid value: {exc!r}", path="InformationObject") from exc


def encode_content(obj: IPM | IPN) -> bytes:
    """Encode an IPM or IPN as a BER X.420 ``InformationObject``."""
    from bridge.codec import asn1, p22

    try:
        value = p22.information_object_to(obj)
    except EncodeError:
        raise
    except _MODEL_ERRORS as exc:
        raise EncodeError(f"cannot encode {type(obj).__name__}: {exc!r}") from exc
    return asn1.encode("InformationObject", value)


def decode_any(data: bytes) -> APDU | IPM | IPN:
    """Decode either an MTS-APDU or bare P22 content, told apart by the outer tag.

    MTS-APDU alternatives are context tags [0] message, [1] report, [2] probe (constructed);
    InformationObject uses [0] ipm / [1] ipn as well, so try MTS-APDU first and fall back.
    """
    try:
        return decode_apdu(data)
    except DecodeError as first:
        try:
            return decode_content(data)
        except DecodeError:
            raise first from None


__all__ = ["decode_any", "decode_apdu", "decode_content", "encode_apdu", "encode_content"]
