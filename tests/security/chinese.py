"""Finding English on Chinese pages: the visible text of an HTML page and the Latin words in it.

Shared by the every-page check (tests/security/test_chinese_words.py) and the forms fuzz
(tests/security/test_forms_fuzz.py), which also looks for WTForms' own English messages.
"""

from __future__ import annotations

import os
import re
from html import unescape
from html.parser import HTMLParser

# Words a Chinese page may show in Latin letters: units, formats, codes, standards and names.
# Compared case-insensitively ("xlsx" in "工作簿（.xlsx）" passes as XLSX).
ALLOWED = {
    # file formats and units
    "PDF",
    "CSV",
    "XLSX",
    "JSON",
    "DOCX",
    "ZIP",
    "PNG",
    "JPG",
    "JPEG",
    "KB",
    "MB",
    "GB",
    # codes, standards and protocols
    "API",
    "URL",
    "HTTP",
    "HTTPS",
    "SMTP",
    "KPI",
    "CNY",
    "RMB",
    "UTC",  # 北京时间（UTC+8）
    "DOI",  # a paper's identifier on the acceptance report
    "USCI",  # org-id.guide's list CN-USCI (统一社会信用代码) on the open-data page
    "PHARMA",  # the example cluster code in the cluster form's help text
    "GRANTS",  # the 360Giving JSON array "grants", named on the open-data page
    # product names
    "Excel",
    "Word",
    # contact details
    "Email",
    "E-mail",
    # the language switch names English in English
    "English",
}
ALLOWED_UPPER = {word.upper() for word in ALLOWED}

# Latin words of three letters or more (ASCII only: Chinese text has no word boundaries for \b).
LATIN_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z]{2,}(?![A-Za-z0-9_])")
# Things in data that are Latin by nature: e-mail addresses, reference numbers, file names, URLs.
DATA_TOKENS = re.compile(
    r"[\w.+-]+@[\w-]+(\.[\w-]+)+"  # e-mail address
    r"|https?://\S+"  # link
    r"|\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(guide|org|com|cn|net|gov)\b"  # domain name: org-id.guide
    r"|\b[\w-]+\.(pdf|csv|xlsx|json|docx|zip|png|jpe?g|css|js)\b"  # file name
    r"|\b[A-Za-z0-9]+(-[A-Za-z0-9]+)+\b"  # codes with dashes: 2026-EDJ-T001, W-00001
    r"|\b(?=[A-Za-z0-9]*\d)[A-Za-z0-9]{3,}\b",  # codes mixing letters and digits: ZL2026000001
    re.IGNORECASE | re.ASCII,
)

SHOWN_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")


class _Visible(HTMLParser):
    """Collects the text a reader sees or hears: text outside <script>/<style>, some attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "template"):
            self._hidden += 1
        for name, value in attrs:
            if name in SHOWN_ATTRIBUTES and value:
                self.parts.append(value)
        if tag == "input":
            values = dict(attrs)
            if values.get("type") in ("submit", "button") and values.get("value"):
                self.parts.append(values["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text of ``html`` a user sees (option texts included), one piece a line."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    return "\n".join(unescape(p) for p in parser.parts if p.strip())


def english_words(html: str, allowed: set[str] = frozenset()) -> set[str]:
    """Latin words on the page that are neither allowed nor part of a code, address or file name."""
    text = DATA_TOKENS.sub(" ", visible_text(html))
    return {
        word
        for word in LATIN_WORD.findall(text)
        if word.upper() not in ALLOWED_UPPER and word not in allowed
    }


def _wtforms_english() -> re.Pattern:
    """WTForms' own messages in English ("Number must be between 0 and 600."), which the Chinese UI must not show."""
    from babel.messages.pofile import read_po
    from wtforms.i18n import messages_path

    with open(os.path.join(messages_path(), "wtforms.pot"), "rb") as handle:
        ids = [m.id for m in read_po(handle) if m.id]
    texts = [text for mid in ids for text in (mid if isinstance(mid, tuple) else (mid,))]
    patterns = [re.sub(r"%(?:\\\(\w+\\\))?[sd]", ".{1,40}?", re.escape(text)) for text in texts]
    return re.compile("|".join(patterns))


WTFORMS_ENGLISH = _wtforms_english()
