"""Code tables of ITU-T T.61 (Teletex) and its ISO 6937 superset, as data.

Sources, per table:

* ``T61_PRIMARY_UNUSED`` -- ITU-T T.61 (1988), code table of the *primary set of graphic
  characters* (ISO-IR 102): ISO 646 IRV minus eight positions.
* ``T61_SUPPLEMENTARY`` -- ITU-T T.61 (1988), code table of the *supplementary set of graphic
  characters* (ISO-IR 103), whose repertoire T.51 defines; shown, as T.61 does, at its 8-bit
  positions 10/0..15/15 (GR), where the basic Teletex code places it (T.61 Annex A.2).
* ``ISO6937_ADDITIONS`` -- positions that T.61 leaves unused but ISO/IEC 6937 (1983 / 2001)
  assigns.  Real MTAs send them, so they are decoded but never produced.
* ``NON_SPACING`` -- column 12 of the T.61 supplementary set (ISO/IEC 6937 "non-spacing
  diacritical marks"), coded *before* the base letter; mapped to Unicode combining marks.
* ``SPACING_FORMS`` -- ISO/IEC 6937: a diacritical mark followed by SPACE is the mark by itself.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

# T.61 primary set: positions of the ISO 646 IRV that the Teletex primary set does not use
# (2/3 '#', 2/4 '$', 5/12 '\', 5/14 '^', 6/0 '`', 7/11 '{', 7/13 '}', 7/14 '~').
T61_PRIMARY_UNUSED: Final = frozenset(b"#$\\^`{}~")

# T.61 supplementary set (supplementary set, ISO-IR 103), spacing characters, 8-bit positions.
T61_SUPPLEMENTARY: Final = MappingProxyType({
    0xA0: "\u00a0",  # 10/0 NO-BREAK SPACE (T.61 "space" in GR)
    0xA1: "\u00a1", 0xA2: "\u00a2", 0xA3: "\u00a3",  # ¡ ¢ £
    0xA4: "$", 0xA5: "\u00a5", 0xA6: "#", 0xA7: "\u00a7", 0xA8: "\u00a4",  # $ ¥ # § ¤
    0xAB: "\u00ab",  # «
    0xB0: "\u00b0", 0xB1: "\u00b1", 0xB2: "\u00b2", 0xB3: "\u00b3",  # ° ± ² ³
    0xB4: "\u00d7", 0xB5: "\u00b5", 0xB6: "\u00b6", 0xB7: "\u00b7",  # × µ ¶ ·
    0xB8: "\u00f7", 0xBB: "\u00bb",  # ÷ »
    0xBC: "\u00bc", 0xBD: "\u00bd", 0xBE: "\u00be", 0xBF: "\u00bf",  # ¼ ½ ¾ ¿
    0xE0: "\u2126", 0xE1: "\u00c6", 0xE2: "\u0110", 0xE3: "\u00aa",  # Ω Æ Đ ª
    0xE4: "\u0126", 0xE6: "\u0132", 0xE7: "\u013f",  # Ħ Ĳ Ŀ
    0xE8: "\u0141", 0xE9: "\u00d8", 0xEA: "\u0152", 0xEB: "\u00ba",  # Ł Ø Œ º
    0xEC: "\u00de", 0xED: "\u0166", 0xEE: "\u014a", 0xEF: "\u0149",  # Þ Ŧ Ŋ ŉ
    0xF0: "\u0138", 0xF1: "\u00e6", 0xF2: "\u0111", 0xF3: "\u00f0",  # ĸ æ đ ð
    0xF4: "\u0127", 0xF5: "\u0131", 0xF6: "\u0133", 0xF7: "\u0140",  # ħ ı ĳ ŀ
    0xF8: "\u0142", 0xF9: "\u00f8", 0xFA: "\u0153", 0xFB: "\u00df",  # ł ø œ ß
    0xFC: "\u00fe", 0xFD: "\u0167", 0xFE: "\u014b",  # þ ŧ ŋ
})

# ISO/IEC 6937 positions unused in T.61 (decode only).
ISO6937_ADDITIONS: Final = MappingProxyType({
    0xA9: "\u2018", 0xAA: "\u201c", 0xAC: "\u2190", 0xAD: "\u2191",  # ‘ “ ← ↑
    0xAE: "\u2192", 0xAF: "\u2193", 0xB9: "\u2019", 0xBA: "\u201d",  # → ↓ ’ ”
    0xD0: "\u2015", 0xD1: "\u00b9", 0xD2: "\u00ae", 0xD3: "\u00a9",  # ― ¹ ® ©
    0xD4: "\u2122", 0xD5: "\u266a", 0xD6: "\u00ac", 0xD7: "\u00a6",  # ™ ♪ ¬ ¦
    0xDC: "\u215b", 0xDD: "\u215c", 0xDE: "\u215d", 0xDF: "\u215e",  # ⅛ ⅜ ⅝ ⅞
    0xFF: "\u00ad",  # SOFT HYPHEN
})

# T.61 supplementary set, column 12: non-spacing diacritical marks (prefix the base character).
NON_SPACING: Final = MappingProxyType({
    0xC1: "\u0300",  # grave accent
    0xC2: "\u0301",  # acute accent
    0xC3: "\u0302",  # circumflex accent
    0xC4: "\u0303",  # tilde
    0xC5: "\u0304",  # macron
    0xC6: "\u0306",  # breve
    0xC7: "\u0307",  # dot above
    0xC8: "\u0308",  # diaeresis
    0xC9: "\u0308",  # umlaut (T.61 1980/84; same as 12/8 in ISO 6937) -- decode only
    0xCA: "\u030a",  # ring above
    0xCB: "\u0327",  # cedilla
    0xCC: "\u0332",  # non-spacing underline (ISO 6937:1983) -- decode only
    0xCD: "\u030b",  # double acute accent
    0xCE: "\u0328",  # ogonek
    0xCF: "\u030c",  # caron
})

# Positions of NON_SPACING that the encoder never produces (duplicates / withdrawn).
NON_SPACING_DECODE_ONLY: Final = frozenset({0xC9, 0xCC})

# ISO/IEC 6937: <diacritic> SPACE represents the spacing form of the mark.
SPACING_FORMS: Final = MappingProxyType({
    "\u0300": "`", "\u0301": "\u00b4", "\u0302": "^", "\u0303": "~",
    "\u0304": "\u00af", "\u0306": "\u02d8", "\u0307": "\u02d9", "\u0308": "\u00a8",
    "\u030a": "\u02da", "\u0327": "\u00b8", "\u030b": "\u02dd", "\u0328": "\u02db",
    "\u030c": "\u02c7",
})
