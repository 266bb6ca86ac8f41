"""Character sets of X.400 strings: T.61/Teletex, ISO 2022, BMP and Universal strings.

The ASN.1 layer hands over the raw octets of the X.208/X.680 character-string types; this module
turns them into ``str`` and back (RFC 2156 §3.3.4 maps X.400 strings onto text this way):

* **TeletexString** (T61String) -- ITU-T T.61 with the T.51 / ISO 6937 repertoire: the primary set
  (ISO-IR 102) in GL, the supplementary set (ISO-IR 103) in GR, *non-spacing diacritical marks
  before the base letter*; ISO/IEC 2022 escape sequences may designate other sets (T.61 Annex A).
  See :func:`t61_decode`, :func:`t61_encode`.
* **GeneralString** and X.420 **GeneralText** body parts (X.420 §7.4, GeneralTextParameters ::=
  SET OF CharacterSetRegistration, each an ISO-IR number) -- ISO/IEC 2022 code extension:
  designations ``ESC I.. F``, locking shifts SI/SO/LS2/LS3/LS1R/LS2R/LS3R, single shifts SS2/SS3.
  See :func:`iso2022_decode`, :func:`iso2022_encode`, :func:`general_text_charsets`.
* **BMPString** (UCS-2 big-endian) and **UniversalString** (UCS-4 big-endian), the X.680
  restricted character string types over ISO/IEC 10646.
* **VideotexString** -- ITU-T T.100/T.101 is not implemented; decoded as T.61 (best effort).

Every graphic set is one row of :data:`_SETS`: ISO-IR number, escape-sequence final byte, size
(94/96, bytes per character) and how to decode it -- a Python codec from the standard library
(ISO 8859 right halves by setting bit 8; JIS X 0208 / KS C 5601 / GB 2312 as EUC code points) or,
for T.61, the tables of :mod:`bridge.model._t61_tables`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from bridge.errors import BridgeError, SMTPReply, X400Diagnostic
from bridge.model import _t61_tables as t61

__all__ = [
    "CharsetError",
    "bmp_decode",
    "bmp_encode",
    "general_text_charsets",
    "iso2022_decode",
    "iso2022_encode",
    "t61_can_encode",
    "t61_decode",
    "t61_encode",
    "universal_decode",
    "universal_encode",
    "videotex_decode",
]


class CharsetError(BridgeError):
    """Octets are not valid in the character set, or text cannot be carried by it.

    ``offset`` is the byte offset in the input octets (decoding) or the index of the character in
    the input text (encoding); ``None`` when the problem has no position (an unsupported
    registration passed by the caller).  Peers are told: X.411 conversion-not-performed (2) /
    conversion-impractical (8); SMTP 554 5.6.5 "Conversion failed" (RFC 3463).
    """

    smtp = SMTPReply(code=554, enhanced="5.6.5", text="Character set conversion failed")
    x400 = X400Diagnostic(reason=2, diagnostic=8)

    def __init__(self, reason: str, *, offset: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        super().__init__(reason if offset is None else f"{reason} (at offset {offset})")


_ESC, _SO, _SI, _SS2, _SS3 = 0x1B, 0x0E, 0x0F, 0x8E, 0x8F
# Runs of 7-bit octets without code-extension functions (SO, SI, ESC; T.61 also 1/9, 1/13).
_PLAIN_RUN = re.compile(rb"[\x00-\x0d\x10-\x1a\x1c-\x7f]+")
_PLAIN_RUN_T61 = re.compile(rb"[\x00-\x0d\x10-\x18\x1a\x1c\x1e-\x7f]+")
_ERRORS = frozenset({"strict", "replace", "ignore"})


@dataclass(frozen=True, eq=False)  # hashed by identity (lru_cache keys)
class _GSet:
    """One graphic character set of the ISO 2375 register (ISO-IR), as ISO/IEC 2022 sees it."""

    reg: int  # ISO-IR registration number (X.420 CharacterSetRegistration)
    name: str
    final: str  # final byte F of the designating escape sequence
    size: int  # 94 or 96 (characters per row)
    width: int  # bytes per character: 1, or 2 for 94^2 sets
    codec: str = ""  # stdlib codec decoding (prefix + code|shift); "" = table only
    shift: int = 0  # 0x80: the codec sees the set in its right half (ISO 8859, EUC)
    prefix: bytes = b""  # e.g. SS3 of EUC-JP for JIS X 0212
    table: Mapping[int, str] = field(default_factory=dict)  # GL code -> char, checked first
    nonspacing: bool = False  # combining marks in the set prefix their base (T.61/ISO 6937)


def _gl(table: Mapping[int, str]) -> dict[int, str]:
    return {code & 0x7F: char for code, char in table.items()}


# ISO-IR 102 is decoded leniently: the eight positions T.61 leaves unused carry their ISO 646 IRV
# characters (MTAs do put '#' and '$' there); t61_encode never produces them.
_T61_SUPP = MappingProxyType(
    _gl({**t61.T61_SUPPLEMENTARY, **t61.ISO6937_ADDITIONS, **t61.NON_SPACING})
)

# ISO 2375 register (https://itscj.ipsj.or.jp/ISO-IR/): number, name, final byte, structure, codec.
_SETS: tuple[_GSet, ...] = (
    _GSet(6, "ASCII (ISO 646 US)", "B", 94, 1, "ascii"),
    _GSet(2, "ISO 646 IRV:1983", "@", 94, 1, "ascii", table={0x24: "\u00a4", 0x7E: "\u203e"}),
    _GSet(14, "JIS X 0201 Roman", "J", 94, 1, "ascii", table={0x5C: "\u00a5", 0x7E: "\u203e"}),
    _GSet(13, "JIS X 0201 Katakana", "I", 94, 1, "shift_jis", 0x80),
    _GSet(102, "T.61 primary set", "u", 94, 1, "ascii"),
    _GSet(103, "T.61 supplementary set", "v", 94, 1, table=_T61_SUPP, nonspacing=True),
    _GSet(100, "ISO 8859-1 right part", "A", 96, 1, "latin_1", 0x80),
    _GSet(101, "ISO 8859-2 right part", "B", 96, 1, "iso8859_2", 0x80),
    _GSet(109, "ISO 8859-3 right part", "C", 96, 1, "iso8859_3", 0x80),
    _GSet(110, "ISO 8859-4 right part", "D", 96, 1, "iso8859_4", 0x80),
    _GSet(144, "ISO 8859-5 right part (Cyrillic)", "L", 96, 1, "iso8859_5", 0x80),
    _GSet(127, "ISO 8859-6 right part (Arabic)", "G", 96, 1, "iso8859_6", 0x80),
    _GSet(126, "ISO 8859-7 right part (Greek)", "F", 96, 1, "iso8859_7", 0x80),
    _GSet(138, "ISO 8859-8 right part (Hebrew)", "H", 96, 1, "iso8859_8", 0x80),
    _GSet(148, "ISO 8859-9 right part", "M", 96, 1, "iso8859_9", 0x80),
    _GSet(157, "ISO 8859-10 right part", "V", 96, 1, "iso8859_10", 0x80),
    _GSet(166, "ISO 8859-11 / TIS 620 right part (Thai)", "T", 96, 1, "iso8859_11", 0x80),
    _GSet(179, "ISO 8859-13 right part", "Y", 96, 1, "iso8859_13", 0x80),
    _GSet(199, "ISO 8859-14 right part", "_", 96, 1, "iso8859_14", 0x80),
    _GSet(203, "ISO 8859-15 right part", "b", 96, 1, "iso8859_15", 0x80),
    _GSet(226, "ISO 8859-16 right part", "f", 96, 1, "iso8859_16", 0x80),
    # JIS C 6226-1978 differs from JIS X 0208-1983 in a few swapped kanji; decoded as the latter.
    _GSet(42, "JIS C 6226-1978", "@", 94, 2, "euc_jp", 0x80),
    _GSet(87, "JIS X 0208-1983", "B", 94, 2, "euc_jp", 0x80),
    # JIS X 0208-1990 is designated ESC & @ ESC $ B; the ESC & @ (IRR) is skipped when decoding.
    _GSet(168, "JIS X 0208-1990", "B", 94, 2, "euc_jp", 0x80),
    _GSet(159, "JIS X 0212-1990", "D", 94, 2, "euc_jp", 0x80, b"\x8f"),
    _GSet(58, "GB 2312-80", "A", 94, 2, "gb2312", 0x80),
    _GSet(149, "KS C 5601-1987", "C", 94, 2, "euc_kr", 0x80),
)
# C0/C1 control sets a GeneralText may list; they change no graphics: ISO 646 C0 (1), ISO 6429
# C1 (77), ISO 4873 minimum C0/C1 (104, 105), T.61 primary/supplementary control sets (106, 107).
_CONTROL_REGS = frozenset({1, 77, 104, 105, 106, 107})

_BY_REG: Mapping[int, _GSet] = MappingProxyType({s.reg: s for s in _SETS})
_BY_FINAL: Mapping[tuple[int, int, str], _GSet] = MappingProxyType(
    {(s.size, s.width, s.final): s for s in reversed(_SETS)}  # first row wins (87 over 168)
)
_G94, _G96 = "()*+", ",-./"  # intermediate byte selecting G0..G3 (ISO/IEC 2022)

# Preference when choosing sets for GeneralText (ties in general_text_charsets); also the order
# in which chosen registrations are listed.
_PREFERENCE = (100, 203, 101, 109, 110, 148, 157, 179, 199, 226, 144, 126, 138, 127, 166,
               13, 87, 159, 149, 58)


@functools.lru_cache(maxsize=8192)
def _decode_codes(gs: _GSet, codes: bytes) -> str | None:
    """The character at 7-bit ``codes`` of set ``gs``; None if the position is undefined."""
    if len(codes) == 1 and codes[0] in gs.table:
        return gs.table[codes[0]]
    if not gs.codec or (gs.size == 94 and any(c in (0x20, 0x7F) for c in codes)):
        return None
    try:
        text = (gs.prefix + bytes(c | gs.shift for c in codes)).decode(gs.codec)
    except UnicodeDecodeError:
        return None
    return text if len(text) == 1 else None


@functools.lru_cache(maxsize=65536)
def _encode_codes(gs: _GSet, char: str) -> bytes | None:
    """The 7-bit codes of ``char`` in ``gs`` (verified by decoding back), or None."""
    if gs.nonspacing and unicodedata.combining(char):
        return None  # a prefixed mark is not a character of its own
    found = [bytes([c]) for c, ch in gs.table.items() if ch == char]
    if found:
        raw = found[0]
    elif gs.codec:
        try:
            raw = char.encode(gs.codec)
        except UnicodeEncodeError:
            return None
        if not raw.startswith(gs.prefix) or len(raw) != len(gs.prefix) + gs.width:
            return None
        raw = raw[len(gs.prefix):]
        if any((b & 0x80) != gs.shift for b in raw):
            return None
        raw = bytes(b & 0x7F for b in raw)
    else:
        return None
    if not all(0x20 <= b <= 0x7F for b in raw) or _decode_codes(gs, raw) != char:
        return None
    return raw


def _designation(gs: _GSet, g: int) -> bytes:
    """ISO/IEC 2022 escape sequence designating ``gs`` as G``g``."""
    if gs.width == 2:
        mid = "$" if g == 0 and gs.final in "@AB" else "$" + _G94[g]
    else:
        mid = _G94[g] if gs.size == 94 else _G96[g]
    return ("\x1b" + mid + gs.final).encode("ascii")


@dataclass
class _State:
    g: list[_GSet | None]
    gl: int = 0
    gr: int = 1


def _initial_state(registrations: Sequence[int]) -> _State:
    """Designations implied by a registration list (X.420 GeneralTextParameters).

    The first single-byte 94-set goes to G0 (ASCII if none is listed); the other graphic sets,
    single-byte ones first, take G1..G3 in order, G1 being invoked into GR.  Control sets and
    registrations this module does not know are skipped -- octets needing them fail where they
    occur.
    """
    g: list[_GSet | None] = [None, None, None, None]
    rest: list[_GSet] = []
    for reg in registrations:
        gs = _BY_REG.get(reg)
        if gs is None or gs in rest or gs is g[0]:
            continue
        if g[0] is None and gs.size == 94 and gs.width == 1:
            g[0] = gs
        else:
            rest.append(gs)
    if g[0] is None:
        g[0] = _BY_REG[6]
    rest.sort(key=lambda gs: gs.width)  # single-byte sets first: G1 is the 8-bit GR set
    for i, gs in enumerate(rest[:3], start=1):
        g[i] = gs
    return _State(g)


class _Decoder:
    """ISO/IEC 2022 (ECMA-35) decoder over an 8-bit code: C0, GL, C1, GR."""

    def __init__(self, data: bytes, state: _State, errors: str, c0_shifts: bool) -> None:
        if errors not in _ERRORS:
            raise ValueError(f"unknown error handling {errors!r}")
        self.data, self.errors, self.c0_shifts = data, errors, c0_shifts
        self.g, self.gl, self.gr = list(state.g), state.gl, state.gr
        self.out: list[str] = []
        self.pending: str | None = None  # a T.61 non-spacing mark waiting for its base

    def fail(self, offset: int, reason: str) -> None:
        if self.errors == "strict":
            raise CharsetError(reason, offset=offset)
        self.flush()
        if self.errors == "replace":
            self.out.append("\ufffd")

    def flush(self) -> None:
        if self.pending is not None:
            self.out.append(self.pending)
            self.pending = None

    def graphic(self, char: str, nonspacing: bool = False) -> None:
        if nonspacing and unicodedata.combining(char):
            self.flush()
            self.pending = char
            return
        if self.pending is not None:
            mark, self.pending = self.pending, None
            if char == " " and mark in t61.SPACING_FORMS:
                char = t61.SPACING_FORMS[mark]
            else:
                char = unicodedata.normalize("NFC", char + mark)
        self.out.append(char)

    def control(self, char: str) -> None:
        self.flush()
        self.out.append(char)

    def run(self) -> str:
        data, i, n = self.data, 0, len(self.data)
        plain = _PLAIN_RUN_T61 if self.c0_shifts else _PLAIN_RUN
        while i < n:
            b = data[i]
            gs = self.g[self.gl]
            if b < 0x80 and self.pending is None and gs and gs.codec == "ascii" and not gs.table:
                run = plain.match(data, i)  # fast path: ASCII-like G0 in GL
                if run:
                    self.out.append(run.group().decode("ascii"))
                    i = run.end()
                    continue
            if b == _ESC:
                i = self.escape(i)
            elif b in (_SO, _SI):
                self.gl = 1 if b == _SO else 0
                i += 1
            elif b in (_SS2, _SS3) or (self.c0_shifts and b in (0x19, 0x1D)):
                i = self.single_shift(i, i, 2 if b in (_SS2, 0x19) else 3)
            elif b == 0x20:
                self.graphic(" ")
                i += 1
            elif b < 0x20 or 0x7F <= b < 0xA0:
                self.control(chr(b))
                i += 1
            else:
                i = self.char(i, self.gl if b < 0x80 else self.gr)
        self.flush()
        return "".join(self.out)

    def single_shift(self, origin: int, i: int, g: int) -> int:
        """SS2/SS3 (ending at ``i``, starting at ``origin``): one character from G2/G3."""
        if i + 1 < len(self.data) and 0x21 <= (self.data[i + 1] & 0x7F) <= 0x7E:
            return self.char(i + 1, g)
        self.fail(origin, "single shift not followed by a graphic character")
        return i + 1

    def char(self, i: int, g: int) -> int:
        gs, data = self.g[g], self.data
        if gs is None:
            self.fail(i, f"octet 0x{data[i]:02X} invokes G{g}, which has no designated set")
            return i + 1
        chunk = data[i:i + gs.width]
        if len(chunk) < gs.width:
            self.fail(i, f"truncated {gs.name} character")
            return len(data)
        high = chunk[0] & 0x80
        if any((c & 0x80) != high or not 0x21 <= (c & 0x7F) <= 0x7E for c in chunk[1:]):
            self.fail(i, f"malformed {gs.name} character")
            return i + 1
        char = _decode_codes(gs, bytes(c & 0x7F for c in chunk))
        if char is None:
            self.fail(i, f"undefined character {chunk.hex(' ').upper()} in {gs.name}")
        else:
            self.graphic(char, gs.nonspacing)
        return i + gs.width

    def escape(self, i: int) -> int:
        """Interpret the escape sequence at ``i`` (ISO/IEC 2022); return the next offset."""
        data, j = self.data, i + 1
        while j < len(data) and 0x20 <= data[j] <= 0x2F:
            j += 1
        if j >= len(data) or not 0x30 <= data[j] <= 0x7E:
            self.fail(i, "incomplete escape sequence")
            return max(j, i + 1)
        inter, final, end = data[i + 1:j].decode("ascii"), chr(data[j]), j + 1
        self.flush()
        if not inter:
            return self.escape_fe_fs(i, final, end)
        if inter[0] in '!"& ':
            return end  # C0/C1 designation, revision (IRR) or announcer: no graphic change
        if inter[0] == "%":
            return self.docs(i, inter, final, end)
        gs: _GSet | None = None
        g = 0
        if len(inter) == 1 and inter in _G94:
            gs, g = _BY_FINAL.get((94, 1, final)), _G94.index(inter)
        elif len(inter) == 1 and inter in _G96[1:]:
            gs, g = _BY_FINAL.get((96, 1, final)), _G96.index(inter)
        elif inter == "$" and final in "@AB":
            gs = _BY_FINAL.get((94, 2, final))
        elif len(inter) == 2 and inter[0] == "$" and inter[1] in _G94:
            gs, g = _BY_FINAL.get((94, 2, final)), _G94.index(inter[1])
        if gs is None:
            esc = "ESC " + " ".join(inter + final)
            self.fail(i, f"unsupported escape sequence {esc}")
        else:
            self.g[g] = gs
        return end

    def escape_fe_fs(self, i: int, final: str, end: int) -> int:
        if final in ("N", "O"):
            return self.single_shift(i, end - 1, 2 if final == "N" else 3)
        if 0x40 <= ord(final) <= 0x5F:  # 7-bit representation of a C1 control (ISO/IEC 2022)
            self.control(chr(ord(final) + 0x40))
        elif final in "no":  # LS2, LS3
            self.gl = 2 if final == "n" else 3
        elif final in "~}|":  # LS1R, LS2R, LS3R
            self.gr = "~}|".index(final) + 1
        else:
            self.fail(i, f"unsupported escape sequence ESC {final}")
        return end

    def docs(self, i: int, inter: str, final: str, end: int) -> int:
        """DOCS (ISO/IEC 2022, ECMA-35): UTF-8 (``ESC % G`` … ``ESC % @``, or ``ESC % / G..I``)."""
        if inter == "%" and final == "@":
            return end
        if (inter, final) not in (("%", "G"), ("%/", "G"), ("%/", "H"), ("%/", "I")):
            self.fail(i, f"unsupported coding system ESC {inter} {final}")
            return end
        stop = self.data.find(b"\x1b%@", end) if inter == "%" else -1
        stop = len(self.data) if stop < 0 else stop
        segment = self.data[end:stop]
        try:
            self.out.append(segment.decode("utf-8"))
        except UnicodeDecodeError as exc:
            if self.errors == "strict":
                raise CharsetError("invalid UTF-8 after ESC % G", offset=end + exc.start) from None
            self.out.append(segment.decode("utf-8", self.errors))
        return stop


def iso2022_decode(data: bytes, *, initial: Sequence[int] = (6,), errors: str = "strict") -> str:
    """Decode a GeneralString / X.420 GeneralText (ISO/IEC 2022 code extension).

    ``initial`` lists the ISO-IR registrations designated at the start (X.420 §7.4
    GeneralTextParameters, e.g. ``(1, 6, 100)`` = ISO 646 C0, ASCII in G0, Latin-1 right part in
    G1/GR); see :func:`_initial_state`.  Escape sequences in the data redesignate G0..G3.
    ``errors``: ``"strict"`` raises :class:`CharsetError` at the first bad octet, ``"replace"``
    puts U+FFFD in its place, ``"ignore"`` drops it.
    """
    return _Decoder(data, _initial_state(initial), errors, c0_shifts=False).run()


def _encode_loop(text: str, state: _State, candidates: Sequence[_GSet]) -> bytes:
    g, home = state.g, state.g[0]
    out = bytearray()
    for index, char in enumerate(text):
        o = ord(char)
        if o <= 0x20 or 0x7F <= o < 0xA0:
            if o in (_ESC, _SO, _SI, _SS2, _SS3):
                raise CharsetError(f"code-extension control U+{o:04X} in text", offset=index)
            cur = g[0]
            if home is not None and cur is not home and (o != 0x20 or not cur or cur.width == 2):
                out += _designation(home, 0)
                g[0] = home
            out.append(o)
            continue
        codes = _encode_codes(g[0], char) if g[0] is not None else None
        if codes is not None:
            out += codes
            continue
        if g[1] is not None and g[1].width == 1:
            codes = _encode_codes(g[1], char)
            if codes is not None:
                out += bytes(c | 0x80 for c in codes)
                continue
        for gs in candidates:
            codes = _encode_codes(gs, char)
            if codes is None:
                continue
            if gs.size == 96:
                out += _designation(gs, 1) + bytes(c | 0x80 for c in codes)
                g[1] = gs
            else:
                out += _designation(gs, 0) + codes
                g[0] = gs
            break
        else:
            raise CharsetError(f"U+{o:04X} is in none of the designated sets", offset=index)
    if g[0] is not home and home is not None:
        out += _designation(home, 0)
    return bytes(out)


def iso2022_encode(text: str, registrations: Sequence[int]) -> bytes:
    """Encode ``text`` with the sets of ``registrations`` (ISO-IR numbers), ISO/IEC 2022 style.

    The code announces its initial state at the front, as RFC 2157 §4 requires of a
    GeneralText ("the escape sequences to designate and invoke the relevant character sets
    ... must be added to the front"; for ISO 8859-1: ``ESC 2/8 4/2``, ``ESC 2/13 4/1``,
    ``ESC 2/1 4/1``, ``ESC 7/14``): G0 designated, and when a single-byte set is in G1, its
    designation, the ISO 6429 C1 set and LS1R -- the state :func:`iso2022_decode` also assumes
    for ``initial=registrations``, so both forms decode alike.  Other
    single-byte 96-sets are designated into G1 when needed (``ESC - F``); 94-sets and multi-byte
    sets are designated into G0 (``ESC $ B`` … ``ESC ( B``, the ISO-2022-JP style), and G0 is
    restored before control characters and at the end.  Raises :class:`CharsetError` (offset =
    character index) for a character no listed set carries.
    """
    candidates: list[_GSet] = []
    for reg in registrations:
        if reg in _CONTROL_REGS:
            continue
        gs = _BY_REG.get(reg)
        if gs is None:
            raise CharsetError(f"ISO-IR {reg} is not a supported graphic character set")
        candidates.append(gs)
    state = _initial_state(registrations)
    home = [gs for gs in state.g[:1] if gs is not None]
    return _announce(state) + _encode_loop(text, state, home + candidates)


#: ESC 2/1 4/1: the ISO 6429 C1 control set (ISO-IR 77) as C1; ESC 7/14: LS1R (G1 into GR)
_C1_6429 = b"\x1b!A"
_LS1R = b"\x1b~"


def _announce(state: _State) -> bytes:
    """The escape sequences that set up ``state`` from nothing (RFC 2157 §4, ISO/IEC 2022):
    G0, and a single-byte G1 with C1 and LS1R.  Multi-byte sets are designated into G0 where
    the text needs them (the ISO-2022-JP way), so they need no announcement."""
    out = bytearray(_designation(state.g[0], 0) if state.g[0] is not None else b"")
    if state.g[1] is not None and state.g[1].width == 1:   # the 8-bit (GR) set in use
        out += _designation(state.g[1], 1) + _C1_6429 + _LS1R
    return bytes(out)


def general_text_charsets(text: str) -> tuple[int, ...]:
    """The ISO-IR registrations to announce in GeneralTextParameters for ``text`` (X.420 §7.4).

    Always ``(1, 6)`` (ISO 646 C0 and ASCII G0), plus graphic sets covering the other characters,
    chosen greedily: first the single-byte ISO 8859 parts, then the multi-byte sets, each time the
    set covering most remaining characters (ties by a fixed preference: Latin-1, Latin-9,
    Latin-2 … Cyrillic, Greek, Hebrew, Arabic, Thai; JIS X 0201/0208/0212, KS C 5601, GB 2312).
    Raises :class:`CharsetError` for a character no supported set has.
    """
    needed: dict[str, int] = {}
    for index, char in enumerate(text):
        o = ord(char)
        if o in (_ESC, _SO, _SI, _SS2, _SS3):
            raise CharsetError(f"code-extension control U+{o:04X} in text", offset=index)
        if o <= 0x20 or 0x7F <= o < 0xA0 or _encode_codes(_BY_REG[6], char):
            continue
        needed.setdefault(char, index)
    chosen: list[int] = []
    for pool in (_PREFERENCE[:15], _PREFERENCE[15:]):  # single-byte sets first, then the rest
        while needed:
            best = max(pool, key=lambda reg: (
                sum(1 for c in needed if _encode_codes(_BY_REG[reg], c)), -pool.index(reg)))
            covered = {c for c in needed if _encode_codes(_BY_REG[best], c)}
            if not covered:
                break
            chosen.append(best)
            needed = {c: i for c, i in needed.items() if c not in covered}
    if needed:
        char, index = min(needed.items(), key=lambda item: item[1])
        raise CharsetError(f"no supported character set has U+{ord(char):04X}", offset=index)
    return (1, 6, *sorted(chosen, key=_PREFERENCE.index))


# --- T.61 / Teletex ---------------------------------------------------------------------------

def _t61_state() -> _State:
    """T.61 Annex A.2: primary set as G0 in GL, supplementary set as G2 invoked into GR."""
    return _State([_BY_REG[102], None, _BY_REG[103], None], gl=0, gr=2)


def t61_decode(data: bytes, *, errors: str = "strict") -> str:
    """Decode a TeletexString (ITU-T T.61, T.51 / ISO 6937 repertoire) to NFC text.

    A non-spacing diacritical mark (0xC1-0xCF) applies to the following character:
    ``b"\\xc8u"`` is ``"ü"``; followed by SPACE it is the spacing mark (ISO/IEC 6937); with no
    base it stays a combining character.  Escape sequences designate other sets as in
    :func:`iso2022_decode`; SS2 and SS3 may also be the T.61 C0 controls 1/9 and 1/13.
    Lenient where real MTAs are: the eight IRV positions T.61 leaves unused (``#``, ``$``, ``\\``
    …) decode as ASCII, the ISO 6937 additions (‘ ’ “ ” arrows, ©, ®, ™, ♪ …) are accepted.
    Only octets undefined everywhere (e.g. 0xC0, 0xE5) raise :class:`CharsetError`.
    """
    return _Decoder(data, _t61_state(), errors, c0_shifts=True).run()


# C0 controls with a code-extension meaning in T.61 (SO, SI, SS2 1/9, ESC, SS3 1/13).
_T61_NOT_TEXT = frozenset("\x0e\x0f\x19\x1b\x1d")


def _t61_encoder() -> dict[str, bytes]:
    """char -> T.61 octets: primary set, supplementary set, spacing marks (T.61 only)."""
    table = {chr(c): bytes([c]) for c in range(0x20, 0x7F) if c not in t61.T61_PRIMARY_UNUSED}
    table.update((char, bytes([code])) for code, char in t61.T61_SUPPLEMENTARY.items())
    table["\u03a9"] = b"\xe0"  # GREEK CAPITAL OMEGA, canonical equivalent of OHM SIGN
    for code, mark in t61.NON_SPACING.items():
        if code not in t61.NON_SPACING_DECODE_ONLY and mark in t61.SPACING_FORMS:
            table[t61.SPACING_FORMS[mark]] = bytes([code, 0x20])
    return table


_T61_ENCODE = MappingProxyType(_t61_encoder())
_T61_MARK = MappingProxyType({mark: bytes([code]) for code, mark in t61.NON_SPACING.items()
                              if code not in t61.NON_SPACING_DECODE_ONLY})


def t61_encode(text: str) -> bytes:
    """Encode ``text`` as a TeletexString (ITU-T T.61 8-bit basic code, no escapes).

    Characters outside the primary and supplementary sets are decomposed (NFD) to a base
    character plus one diacritical mark of column 12, coded mark first (``"é"`` -> ``C2 65``).
    Raises :class:`CharsetError` (offset = character index) for anything else, e.g. ``{``,
    ``\\``, CJK, or a letter with two marks.
    """
    out = bytearray()
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if i + 1 < n and text[i + 1] in _T61_MARK and _t61_base(char):
            out += _T61_MARK[text[i + 1]] + _T61_ENCODE[char]
            i += 2
            continue
        if char in _T61_ENCODE:
            out += _T61_ENCODE[char]
        elif char < "\x20" and char not in _T61_NOT_TEXT:
            out.append(ord(char))
        else:
            parts = unicodedata.normalize("NFD", char)
            if len(parts) != 2 or parts[1] not in _T61_MARK or not _t61_base(parts[0]):
                raise CharsetError(f"U+{ord(char):04X} is not in the T.61 repertoire", offset=i)
            out += _T61_MARK[parts[1]] + _T61_ENCODE[parts[0]]
        i += 1
    return bytes(out)


def _t61_base(char: str) -> bool:
    """Whether ``char`` is a one-octet graphic character a diacritical mark may precede."""
    code = _T61_ENCODE.get(char)
    return code is not None and len(code) == 1 and code not in (b" ", b"\xa0")


def t61_can_encode(text: str) -> bool:
    """Whether :func:`t61_encode` can carry ``text``."""
    try:
        t61_encode(text)
    except CharsetError:
        return False
    return True


def videotex_decode(data: bytes, *, errors: str = "strict") -> str:
    """Decode a VideotexString, best effort.

    ITU-T T.100/T.101 (mosaic sets, DRCS, display attributes) are not implemented: the octets are
    decoded as T.61, whose repertoire the T.101 Latin data syntaxes share (T.101 also uses C0 1/9
    and 1/13 as SS2/SS3).  Videotex-only sets fail like any unknown designation.
    """
    return t61_decode(data, errors=errors)


# --- BMPString / UniversalString (X.680, ISO/IEC 10646) ------------------------------------------

def bmp_decode(data: bytes, *, errors: str = "strict") -> str:
    """Decode a BMPString: UCS-2 big-endian; surrogate code points are not characters."""
    return _ucs_decode(data, 2, errors)


def universal_decode(data: bytes, *, errors: str = "strict") -> str:
    """Decode a UniversalString: UCS-4 big-endian, code points up to U+10FFFF, no surrogates."""
    return _ucs_decode(data, 4, errors)


def _ucs_decode(data: bytes, width: int, errors: str) -> str:
    if errors not in _ERRORS:
        raise ValueError(f"unknown error handling {errors!r}")
    out: list[str] = []
    for i in range(0, len(data), width):
        unit = data[i:i + width]
        if len(unit) < width:
            reason = f"length {len(data)} is not a multiple of {width}"
        else:
            cp = int.from_bytes(unit, "big")
            if cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF:
                out.append(chr(cp))
                continue
            reason = f"U+{cp:04X} is not a Unicode scalar value"
        if errors == "strict":
            raise CharsetError(reason, offset=i)
        if errors == "replace":
            out.append("\ufffd")
    return "".join(out)


def bmp_encode(text: str) -> bytes:
    """Encode a BMPString (UCS-2 BE); characters beyond U+FFFF raise :class:`CharsetError`."""
    return _ucs_encode(text, 2)


def universal_encode(text: str) -> bytes:
    """Encode a UniversalString (UCS-4 BE)."""
    return _ucs_encode(text, 4)


def _ucs_encode(text: str, width: int) -> bytes:
    limit = 0xFFFF if width == 2 else 0x10FFFF
    for index, char in enumerate(text):
        if ord(char) > limit or 0xD800 <= ord(char) <= 0xDFFF:
            raise CharsetError(f"U+{ord(char):04X} cannot be a {width * 8}-bit UCS character",
                               offset=index)
    return text.encode("utf-16-be" if width == 2 else "utf-32-be")
