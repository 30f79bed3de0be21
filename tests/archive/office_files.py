"""Small PDF, DOCX and OFD files made by the tests themselves, with Chinese text and a 文号 in the header.

The PDF is written by hand (no font on this machine is needed): a Type0 font with Identity-H encoding whose
CIDs are the characters' Unicode code points, and a ToUnicode map saying so — what a text extractor reads.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

HEADER = "示范市人民政府文件"
DOC_NO = "示政发〔2024〕12号"
TITLE = "示范市人民政府关于印发《示范市居住证办理办法》的通知"
ADDRESSEE = "各区人民政府，市政府各部门："
BODY = ("现将《示范市居住证办理办法》印发给你们，请认真贯彻执行。"
        "根据国发〔2020〕5号文件，申请人可到政务服务中心办理。")
SIGNATURE = "示范市人民政府"
DATE_CN = "二〇二四年三月五日"
ISSUER = "示范市人民政府"
ISSUED_ON = "2024-03-05"
LINES = [HEADER, DOC_NO, TITLE[:16], TITLE[16:], ADDRESSEE, BODY, SIGNATURE, DATE_CN]


# -- PDF ------------------------------------------------------------------------------------------------
def _hex(text: str) -> str:
    return "".join(f"{ord(c):04X}" for c in text)


def pdf_bytes(lines: list[str] | None = None) -> bytes:
    lines = LINES if lines is None else lines
    chars = sorted({c for line in lines for c in line})
    cmap_body = []
    for start in range(0, len(chars), 100):
        block = chars[start:start + 100]
        cmap_body.append(f"{len(block)} beginbfchar\n"
                         + "\n".join(f"<{ord(c):04X}> <{ord(c):04X}>" for c in block) + "\nendbfchar")
    cmap = ("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
            "/CMapName /Adobe-Identity-UCS def /CMapType 2 def\n"
            "1 begincodespacerange <0000> <FFFF> endcodespacerange\n"
            + "\n".join(cmap_body) + "\nendcmap CMapName currentdict /CMap defineresource pop end end")
    ops = ["BT", "/F1 12 Tf", "14 TL", "40 800 Td"]
    for line in lines:
        ops.append(f"<{_hex(line)}> Tj T*")
    ops.append("ET")
    content = "\n".join(ops)
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> "
        "/Contents 4 0 R >>",
        f"<< /Length {len(content.encode())} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /Identity-H "
        "/DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /STSong-Light "
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>",
        f"<< /Length {len(cmap.encode())} >>\nstream\n{cmap}\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{n} 0 obj\n{body}\nendobj\n".encode())
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypted_pdf_bytes() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes())))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


# -- DOCX -----------------------------------------------------------------------------------------------
def docx_bytes(header_in_section: bool = True) -> bytes:
    import docx

    document = docx.Document()
    if header_in_section:  # the 版头 and 文号 in the page header
        header = document.sections[0].header
        header.paragraphs[0].text = HEADER
        header.add_paragraph(DOC_NO)
    else:
        document.add_paragraph(HEADER)
        document.add_paragraph(DOC_NO)
    document.add_paragraph(TITLE)
    document.add_paragraph(ADDRESSEE)
    document.add_paragraph(BODY)
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "办理材料", "居民身份证"
    table.cell(1, 0).text, table.cell(1, 1).text = "办理时限", "15个工作日"
    document.add_paragraph(SIGNATURE)
    document.add_paragraph(DATE_CN)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def rezip(data: bytes, replace: dict[str, bytes]) -> bytes:
    """``data`` (a zip) with some members' bytes replaced."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
    return out.getvalue()


# -- OFD ------------------------------------------------------------------------------------------------
def _ofd_page(lines: list[str], ns: str, doctype: str = "") -> bytes:
    objects = []
    for n, line in enumerate(lines):
        # the title's second half sits right of nothing, one line lower; objects are written in a shuffled
        # order (last line first) so only the positions give the reading order
        y = 20 + n * 8
        objects.append(
            f'<ofd:TextObject ID="{n + 10}" Boundary="20 {y} 170 8" Font="1" Size="4.2">'
            f'<ofd:TextCode X="0" Y="6">{escape(line)}</ofd:TextCode></ofd:TextObject>')
    objects.reverse()
    return (f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<ofd:Page xmlns:ofd="{ns}"><ofd:Content>'
            f'<ofd:Layer ID="2">{"".join(objects)}</ofd:Layer></ofd:Content></ofd:Page>').encode()


def ofd_bytes(ns: str = "http://www.ofdspec.org/2016", lines: list[str] | None = None,
              page_doctype: str = "") -> bytes:
    lines = LINES if lines is None else lines
    ofd_xml = (f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{ns}" Version="1.0" '
               f'DocType="OFD"><ofd:DocBody><ofd:DocInfo><ofd:DocID>0</ofd:DocID></ofd:DocInfo>'
               f'<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>')
    document = (f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{ns}"><ofd:CommonData>'
                f'<ofd:MaxUnitID>99</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297'
                f'</ofd:PhysicalBox></ofd:PageArea></ofd:CommonData><ofd:Pages>'
                f'<ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/>'
                f'<ofd:Page ID="2" BaseLoc="Pages/Page_1/Content.xml"/></ofd:Pages></ofd:Document>')
    half = len(lines) - 2  # the signature and the date on a second page
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("OFD.xml", ofd_xml)
        z.writestr("Doc_0/Document.xml", document)
        z.writestr("Doc_0/Pages/Page_0/Content.xml", _ofd_page(lines[:half], ns, page_doctype))
        z.writestr("Doc_0/Pages/Page_1/Content.xml", _ofd_page(lines[half:], ns))
    return out.getvalue()


def zip_bomb(member: str = "Doc_0/Pages/Page_0/Content.xml", size: int = 8 * 1024 * 1024) -> bytes:
    """An OFD-looking zip with one member of ``size`` zero bytes (deflated about 1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("OFD.xml", b"<ofd:OFD xmlns:ofd='http://www.ofdspec.org'/>")
        with z.open(member, "w", force_zip64=True) as handle:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(size // len(chunk)):
                handle.write(chunk)
    return out.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
