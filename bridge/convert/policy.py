"""The mapping policy: a frozen object that decides lossy cases (STYLE: "policies, not
flags"; like ``email.policy``).  Named presets; an unknown option is an error."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from bridge.errors import ConfigError
from bridge.model.seclabel import LABEL_POLICIES, LabelPolicy


@dataclass(frozen=True, slots=True, kw_only=True)
class MappingPolicy:
    """Decisions RFC 2156/2157 leave to the gateway.

    * ``truncate_to_bounds`` — RFC 2156 §5.1.3: values over X.400 upper bounds are truncated
      (a defect is recorded); with False they are an error.
    * ``reject_critical`` — §5.3.6 / X-7, X-11: an unmappable element marked critical for
      delivery makes the conversion fail (non-delivery) instead of being discarded.
    * ``ipn_as_mdn`` — N-5: notifications as RFC 8098 MDNs instead of the MIXER text form.
    * ``bp14_content_type`` — P-14: the MIME type for bilaterally-defined body parts.
    * ``octet_stream_as`` — P-14, RFC 2157 §8: ``"ftbp"`` maps application/octet-stream with a
      file name to an FTBP (§6.4), ``"bp14"`` always to a bilaterally-defined body part (§6.3).
    * ``x400_1984_peer`` — App B: downgrade for an X.400(84) peer.
    * ``encoded_words`` — B-4: render teletex text with RFC 2047 encoded-words (True) or the
      X.408 IA5 down-mapping (False).
    * ``keep_unmapped`` — archives: an extension nothing maps is not only listed but kept,
      value included, in an ``X400-Unmapped-Extension:`` field a person can read (critical ones
      too, when ``reject_critical`` is off).
    * ``security_labels`` — RFC 7444 / X.411 §9 (MIL-5): ``"pass"``, ``"require"`` (a message
      without a label is non-delivered) or ``"refuse"`` (one with a label is), for every
      conversion in both directions (bridge.convert.seclabel; X.400 peers add their own).
    """

    truncate_to_bounds: bool = True
    reject_critical: bool = True
    ipn_as_mdn: bool = False
    bp14_content_type: str = "application/octet-stream"
    octet_stream_as: str = "ftbp"
    x400_1984_peer: bool = False
    encoded_words: bool = True
    keep_unmapped: bool = False
    security_labels: LabelPolicy = "pass"

    def __post_init__(self) -> None:
        if self.security_labels not in LABEL_POLICIES:
            raise ConfigError(f"security_labels must be one of {', '.join(LABEL_POLICIES)}, "
                              f"not {self.security_labels!r}")
        if self.octet_stream_as not in ("ftbp", "bp14"):
            raise ConfigError(f"octet_stream_as must be 'ftbp' or 'bp14', not "
                              f"{self.octet_stream_as!r}")

    def clone(self, **changes: Any) -> MappingPolicy:
        """A copy with ``changes``; an unknown name is a ConfigError naming it."""
        known = {f.name for f in fields(self)}
        for name in changes:
            if name not in known:
                raise ConfigError(f"unknown mapping policy option {name!r}")
        return replace(self, **changes)


RFC2156 = MappingPolicy()
STRICT = MappingPolicy(truncate_to_bounds=False)
LENIENT = MappingPolicy(reject_critical=False)
#: issue 13: converting an archive is not delivering mail -- convert with loss, keep visible
#: what cannot be mapped, record a defect; refusing (RFC 2156 §5.3.6) is for the gateway
ARCHIVE = MappingPolicy(reject_critical=False, keep_unmapped=True)
PRESETS = {"rfc2156": RFC2156, "strict": STRICT, "lenient": LENIENT, "archive": ARCHIVE}
