"""The real-mail corpus through both directions of the gateway; writes docs/corpus-results.md.

For each source of the corpus (../shared/corpus or ``$X400BRIDGE_CORPUS``): how many messages
MIME -> X.400 converts and why the others fail, the defects by kind, whether every X.400 output
round-trips through the codec and converts back to MIME that ``policy.default`` parses, and
whether the outputs decode in the independent decoders (@wildboar/x400, tshark) when they are
installed.  The conversion is the one ``tests/test_corpus.py`` checks (same functions, same
fixed SMTP envelope and conversion time), so the page is deterministic: sorted, and dated by
one "generated on" line.

Run: ``python bench/corpus_results.py [--corpus DIR] [--out docs/corpus-results.md]
[--no-oracles]``.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import oracle  # noqa: E402
from tests.test_corpus import (  # noqa: E402
    CORPUS_ENV,
    DSN_RCPT_TO,
    MAIL_FROM,
    RCPT_TO,
    OracleReport,
    Outcome,
    convert,
    corpus_dir,
    corpus_messages,
    make_ctx,
    tshark_check,
    wildboar_check,
)

SOURCES = ("flanker", "mimekit", "postal-mime", "spamassassin", "talon")
REASON_WIDTH = 110


def _reason(text: str) -> str:
    """A failure reason for a table: one line, bounded."""
    line = " ".join(text.split())
    return line if len(line) <= REASON_WIDTH else line[:REASON_WIDTH - 1] + "…"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _oracle_line(name: str, unavailable: str | None, rep: OracleReport | None) -> str:
    if unavailable is not None:
        return f"not run: {unavailable}"
    if rep is None:
        return "not run (--no-oracles)"
    ok = rep.checked - len(rep.failures)
    text = f"{ok}/{rep.checked} values decode"
    if rep.excluded:
        text += f"; {len(rep.excluded)} excluded ({name} limit)"
    return text


class SourceResult:
    def __init__(self, source: str, outcomes: list[Outcome]) -> None:
        self.source = source
        self.outcomes = outcomes
        self.wildboar: OracleReport | None = None
        self.tshark: OracleReport | None = None

    @property
    def converted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error is None and o.crash is None]

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.error is not None or o.crash is not None]

    def counts(self) -> dict[str, int]:
        outputs = [out for o in self.outcomes for out in o.outputs]
        return {
            "messages": len(self.outcomes),
            "converted": len(self.converted),
            "failed": len(self.failed),
            "failed, not a BridgeError (bugs)": sum(o.crash is not None for o in self.outcomes),
            "DSNs (also converted to a report)": sum(o.dsn for o in self.outcomes),
            "lossy conversions (a lossy defect)": sum(
                any(d.lossy for d in o.defects) for o in self.converted),
            "X.400 outputs (MTS-APDUs)": len(outputs),
            "outputs: encode -> decode is the identity": sum(
                out.roundtrip is None for out in outputs),
            "outputs: converted back to MIME": sum(out.back is not None for out in outputs),
            "outputs: MIME parses with policy.default": sum(
                out.back is not None and out.parse_error is None for out in outputs),
            "outputs: MIME breaks policy.default as the input does": sum(
                o.tolerated(out) for o in self.outcomes for out in o.outputs),
        }

    def defect_kinds(self) -> list[tuple[str, int, int]]:
        """(kind, defects, messages) over the MIME -> X.400 conversions, by kind."""
        total: Counter[str] = Counter()
        messages: Counter[str] = Counter()
        for o in self.outcomes:
            kinds = [d.kind for d in o.defects]
            total.update(kinds)
            messages.update(set(kinds))
        return [(k, total[k], messages[k]) for k in sorted(total)]

    def back_defect_kinds(self) -> list[tuple[str, int]]:
        total: Counter[str] = Counter()
        for o in self.outcomes:
            for out in o.outputs:
                if out.back is not None:
                    total.update(d.kind for d in out.back.defects)
        return sorted(total.items())

    def reasons(self) -> list[tuple[str, int]]:
        found: Counter[str] = Counter()
        for o in self.failed:
            found[_reason(o.crash or o.error or "")] += 1
        return sorted(found.items())


def run(corpus: Path, oracles: bool) -> tuple[list[SourceResult], dict[str, str | None]]:
    ctx = make_ctx()
    messages = corpus_messages(corpus)
    by_source: dict[str, list[Outcome]] = {}
    for m in messages:
        by_source.setdefault(m.source, []).append(convert(m, ctx))
    unavailable: dict[str, str | None] = {
        "wildboar": oracle.unavailable_reason("node"),
        "tshark": oracle.unavailable_reason("tshark"),
    }
    results = []
    for source in sorted(by_source):
        res = SourceResult(source, by_source[source])
        if oracles and unavailable["wildboar"] is None:
            res.wildboar = wildboar_check(res.outcomes)
        if oracles and unavailable["tshark"] is None:
            res.tshark = tshark_check(res.outcomes)
        results.append(res)
    return results, unavailable


def render(results: list[SourceResult], unavailable: dict[str, str | None],
           oracles: bool) -> str:
    lines = [
        "# Corpus results",
        "",
        f"generated on {datetime.now(UTC):%Y-%m-%d} by `python bench/corpus_results.py`",
        "",
        "The real-mail corpus (`../shared/corpus`: public test messages of mail libraries, see",
        "its README) through the gateway: each message MIME -> X.400 (RFC 2156 §5.1, RFC 2157)",
        f"with the SMTP envelope MAIL FROM `{MAIL_FROM}`,",
        f"RCPT TO {', '.join(f'`{r}`' for r in RCPT_TO)} (an MCGAM-mapped and an unmapped",
        "domain, tables `tests/data/mappings/rfc2156`); DSNs also through `dsn_to_report`",
        f"(§5.1.8, RCPT TO {', '.join(f'`{r}`' for r in DSN_RCPT_TO)}).",
        "Each X.400 output is encoded, decoded, converted back to MIME (§5.3, reports §5.3.8) and",
        "parsed with `email.policy.default`.  `tests/test_corpus.py` asserts the same, message",
        "by message.  \"Failed\" means a `BridgeError` (the gateway refuses the message and says",
        "why); any other exception would be a bug.",
        "",
        "## Summary",
        "",
    ]
    keys = list(results[0].counts()) if results else []
    header = "| | " + " | ".join(r.source for r in results) + " | total |"
    lines += [header, "|---" * (len(results) + 2) + "|"]
    for key in keys:
        values = [r.counts()[key] for r in results]
        lines.append(f"| {key} | " + " | ".join(str(v) for v in values) + f" | {sum(values)} |")
    for name in ("wildboar", "tshark"):
        reps = [getattr(r, name) for r in results]
        cells = [_oracle_line(name, unavailable[name], rep if oracles else None) for rep in reps]
        total: OracleReport | None = None
        if oracles and unavailable[name] is None:
            total = OracleReport(
                checked=sum(r.checked for r in reps if r is not None),
                failures=[f for r in reps if r is not None for f in r.failures],
                excluded=[e for r in reps if r is not None for e in r.excluded])
        lines.append(f"| {name} | " + " | ".join(cells) + " | "
                     + _oracle_line(name, unavailable[name], total) + " |")
    lines += [
        "",
        "wildboar: @wildboar/x400 1.0.6 decodes every MTS-APDU (`MTS-APDU`) and the P22 content",
        "of each message (`InformationObject`): two values per message output, one per report;",
        "its ASCII-only GeneralString is a documented exclusion",
        "(`/work/shared/ASN1-NOTES.md`).  tshark: the P1 and P22 dissectors over all outputs in",
        "one run each; \"Dissector for OID not implemented\" (our private MIXER OIDs) is not an",
        "error; outputs above the 256 KiB pcap snap length cannot be given to it and are",
        "excluded.",
        "",
    ]
    for r in results:
        lines += [f"## {r.source}", ""]
        lines += ["| | |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in r.counts().items()]
        for name, rep in (("wildboar", r.wildboar), ("tshark", r.tshark)):
            line = _oracle_line(name, unavailable[name], rep if oracles else None)
            lines.append(f"| {name} | {line} |")
        lines.append("")
        reasons = r.reasons()
        if reasons:
            lines += ["Failures:", "", "| reason | messages |", "|---|---|"]
            lines += [f"| {_cell(text)} | {n} |" for text, n in reasons]
            lines.append("")
        kinds = r.defect_kinds()
        if kinds:
            lines += ["Defects MIME -> X.400, by kind:", "",
                      "| kind | defects | messages |", "|---|---|---|"]
            lines += [f"| {k} | {n} | {m} |" for k, n, m in kinds]
            lines.append("")
        back = r.back_defect_kinds()
        if back:
            lines += ["Defects X.400 -> MIME (the outputs back), by kind:", "",
                      "| kind | defects |", "|---|---|"]
            lines += [f"| {k} | {n} |" for k, n in back]
            lines.append("")
        notes = []
        for rep_name, rep in (("wildboar", r.wildboar), ("tshark", r.tshark)):
            if rep is None:
                continue
            notes += [f"- {rep_name} failure: `{_reason(f)}`" for f in sorted(rep.failures)]
            notes += [f"- {rep_name} excluded: `{_reason(e)}`" for e in sorted(rep.excluded)]
        if notes:
            lines += notes + [""]
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=None,
                        help=f"corpus folder (default: ${CORPUS_ENV} or ../shared/corpus)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "corpus-results.md")
    parser.add_argument("--no-oracles", action="store_true",
                        help="do not run @wildboar/x400 and tshark")
    args = parser.parse_args(argv)
    corpus = args.corpus or corpus_dir()
    if corpus is None or not (corpus / "manifest.json").is_file():
        print(f"corpus not found (--corpus, ${CORPUS_ENV} or ../shared/corpus)",
              file=sys.stderr)
        return 2
    oracles = not args.no_oracles
    results, unavailable = run(corpus, oracles)
    missing = set(SOURCES) - {r.source for r in results}
    if missing:
        print(f"note: no messages from {', '.join(sorted(missing))}", file=sys.stderr)
    text = render(results, unavailable, oracles)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
