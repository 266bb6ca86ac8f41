"""`x400bridge convert`: both directions over eml, mbox, Maildir and BER inputs; a bad message
is reported and skipped while the rest convert; --report, --resume, --jobs; exit 0/1/2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.codec import decode_apdu
from tests.conftest import sample_file

GW = ["--tables", str(Path(__file__).parent / "data" / "mappings" / "rfc2156"),
      "--gateway-domain", "gw.example.ac.uk", "--gateway-or", "/O=mr/PRMD=uk.ac/ADMD= /C=gb/"]

MAIL = (b"From: Jo Bloggs <Jo.Bloggs@cs.ucl.ac.uk>\r\nTo: Marshall.Rose@cs.ucl.ac.uk\r\n"
        b"Subject: test %d\r\nMessage-ID: <%d@cs.ucl.ac.uk>\r\n"
        b"Date: Sat, 28 Nov 2026 09:30:15 +0000\r\n\r\nHello %d.\r\n")


def mail(n: int) -> bytes:
    return MAIL % (n, n, n)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    src = tmp_path / "archive"
    src.mkdir()
    (src / "one.eml").write_bytes(mail(1))
    (src / "box.mbox").write_bytes(b"".join(
        b"From someone Sat Nov 28 09:00:00 2026\n" + mail(n).replace(b"\r\n", b"\n") + b"\n"
        for n in (2, 3, 4)))
    md = src / "Maildir"
    for d in ("cur", "new", "tmp"):
        (md / d).mkdir(parents=True)
    (md / "new" / "5.host").write_bytes(mail(5))
    # refused before parsing (bridge/convert/limits.py): a header block over 1 MiB
    (src / "broken.eml").write_bytes(b"X-Junk: " + b"j" * 1_100_000 + b"\r\n\r\nbody\r\n")
    return src


def test_to_x400_converts_every_message_and_reports(capsys: pytest.CaptureFixture[str],
                                                    archive: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "out", tmp_path / "report.json"
    code, stdout, _ = run(capsys, "convert", "--to", "x400", "--out", str(out), "--report",
                          str(report), str(archive), *GW)
    data = json.loads(report.read_text())
    statuses = {Path(m["input"]).name: m["status"] for m in data["messages"]}
    assert statuses["broken.eml"] == "failed"
    ok = [m for m in data["messages"] if m["status"] == "ok"]
    assert len(ok) == 5 and data["totals"]["converted"] == 5 and data["totals"]["failed"] == 1
    assert code == 1 and "5 converted, 0 converted with loss, 1 failed" in stdout
    for m in ok:
        apdu = decode_apdu(Path(m["outputs"][0]).read_bytes())
        assert apdu.envelope.content_type in (2, 22)  # type: ignore[union-attr]  # H-2
    failed = next(m for m in data["messages"] if m["status"] == "failed")
    assert failed["error"]


def test_resume_skips_finished_messages(capsys: pytest.CaptureFixture[str], archive: Path,
                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    run(capsys, "convert", "--to", "x400", "--out", str(out), str(archive), *GW)
    (archive / "broken.eml").write_bytes(mail(6))  # the operator fixed the bad one
    report = tmp_path / "r.json"
    code, stdout, _ = run(capsys, "convert", "--to", "x400", "--resume", "--out", str(out),
                          "--report", str(report), str(archive), *GW)
    assert code == 0 and "1 converted, 0 converted with loss, 0 failed, 5 skipped" in stdout
    data = json.loads(report.read_text())
    assert len(data["messages"]) == 6 and all(m["status"] == "ok" for m in data["messages"])


def test_to_mime_from_ber_files_in_parallel(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    src = tmp_path / "ber"
    src.mkdir()
    for name in ("ipm-text.p22", "ipn-receipt.p22", "report.p1", "probe.p1"):
        shutil.copy(sample_file(name), src / f"{name}.ber")
    out, report = tmp_path / "mime", tmp_path / "r.json"
    code, _, _ = run(capsys, "convert", "--to", "mime", "--jobs", "2", "--out", str(out),
                     "--report", str(report), str(src), *GW)
    data = json.loads(report.read_text())
    by_name = {Path(m["input"]).name: m for m in data["messages"]}
    assert by_name["probe.p1.ber"]["status"] == "failed"  # a probe is not a message
    assert code == 1
    for name in ("ipm-text.p22.ber", "ipn-receipt.p22.ber", "report.p1.ber"):
        produced = Path(by_name[name]["outputs"][0]).read_bytes()
        assert b"\r\n\r\n" in produced or b"\n\n" in produced
    assert b"multipart/report" in Path(by_name["report.p1.ber"]["outputs"][0]).read_bytes()


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "convert", "--to", "x400", str(tmp_path / "nope"), *GW)
    assert code == 2 and "no such input" in err
    code, _, err = run(capsys, "convert", "--to", "x400", "--report",
                       str(tmp_path / "no" / "r.json"), str(tmp_path), *GW)
    assert code == 2 and "--report" in err           # said before hours of conversion
    with pytest.raises(SystemExit) as exc:
        main(["convert", "--to", "fax", str(tmp_path)])
    assert exc.value.code == 2


def test_policy_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """--ipn-as-mdn turns notifications into RFC 8098 MDNs; --octet-stream-as picks BP14."""
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(sample_file("ipn-receipt.p22"), src / "ipn.p22")
    out = tmp_path / "out"
    code, _, _ = run(capsys, "convert", "--to", "mime", "--ipn-as-mdn", "--out", str(out),
                     str(src), *GW)
    produced = next(out.glob("*.eml")).read_bytes()
    assert code == 0 and b"report-type=disposition-notification" in produced
    mail_dir = tmp_path / "mail"
    mail_dir.mkdir()
    (mail_dir / "a.eml").write_bytes(
        b"From: a@AC.UK\r\nTo: c@AC.UK\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=x.bin\r\n\r\nxyz\r\n")
    out2 = tmp_path / "out2"
    code, _, _ = run(capsys, "convert", "--to", "x400", "--octet-stream-as", "bp14", "--out",
                     str(out2), str(mail_dir), *GW)
    from bridge.codec import decode_content
    from bridge.model import IPM, BilaterallyDefinedBodyPart, Message

    apdu = decode_apdu(next(out2.glob("*.p1")).read_bytes())
    assert code == 0 and isinstance(apdu, Message)
    ipm = decode_content(apdu.content)
    assert isinstance(ipm, IPM) and isinstance(ipm.body[0], BilaterallyDefinedBodyPart)
