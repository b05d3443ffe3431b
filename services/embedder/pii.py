"""PII redaction: every rule of the embedder lives here, applied before chunking.

Nothing a rule matches reaches Triton or Milvus: the whole text is redacted
first, then chunked, so a match can never straddle a chunk boundary.

Rules, in order (earlier rules win; each replaces the match by a placeholder):

1. ``[SECRET]``  API keys and tokens: known vendor prefixes (``sk-``, ``sk_live_``,
   ``ghp_``, ``github_pat_``, ``xox?-``, ``AKIA``, ``AIza``, ``glpat-``), JWTs,
   ``Bearer <token>``, ``key=value`` / ``key: value`` assignments whose key names a
   secret (api_key, secret, token, password, ...: the key is kept, the value goes),
   and long mixed letter+digit strings (>= 32 chars) that look random.
2. ``[EMAIL]``   addresses ``local@domain.tld``.
3. ``[IBAN]``    2 letters, 2 check digits, 11-30 alphanumerics (spaces allowed),
   only when the ISO 13616 mod-97 check passes.
4. ``[CARD]``    13-19 digits (spaces/dashes allowed) passing the Luhn check.
5. ``[PHONE]``   ``+`` international numbers and national numbers with separators
   or parentheses, 7-15 digits in all; dates (2024-01-15), times, decimals,
   versions and short numbers are left alone. Bare digit runs of 10-15 digits
   are treated as phone numbers too (a card number that fails Luhn is not a card,
   but a 10-15 digit run is rarely anything harmless).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

SECRET, EMAIL, IBAN, CARD, PHONE = "[SECRET]", "[EMAIL]", "[IBAN]", "[CARD]", "[PHONE]"

_SECRET_KEYS = (r"api[_-]?key|apikey|api[_-]?secret|secret(?:[_-]?key)?|client[_-]?secret|"
                r"access[_-]?token|auth[_-]?token|refresh[_-]?token|token|password|passwd|pwd|"
                r"private[_-]?key|access[_-]?key(?:[_-]?id)?")
_KV_SECRET = re.compile(
    rf"(?i)\b((?:{_SECRET_KEYS}))([\"']?\s*[:=]\s*|\s+is\s+)([\"']?)([^\s\"',;]{{4,}})\3")
_VENDOR_SECRET = re.compile(
    r"\b(?:sk-(?:proj-)?[A-Za-z0-9_-]{16,}|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{10,}"
    r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{16,}"
    r"|xox[abposr]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35})")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")
_BEARER = re.compile(r"(?i)\b(bearer)\s+([A-Za-z0-9._~+/=-]{16,})")
_RANDOM_TOKEN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}(?![A-Za-z0-9+/_-])")

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                    r"\.[A-Za-z]{2,24}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+/.-])"
    r"(?:\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{1,4}){1,5}"  # +CC ...
    r"|\(\d{2,5}\)[\s.-]?\d{2,4}(?:[\s.-]?\d{2,4}){1,3}"                          # (555) 123-4567
    r"|\d{2,5}(?:[\s.-]\d{2,4}){2,4}"                                              # 555-123-4567
    r"|\d{10,15})"                                                                 # 5551234567
    r"(?![\w/-]|\.\d)")
_DATE_LIKE = re.compile(r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        number = "".join(str(int(ch, 36)) for ch in moved)
    except ValueError:
        return False
    return int(number) % 97 == 1


def _looks_random(token: str) -> bool:
    """Long strings of mixed letters and digits (keys, hashes), not words or paths."""
    letters = sum(c.isalpha() for c in token)
    digits = sum(c.isdigit() for c in token)
    upper = sum(c.isupper() for c in token)
    return digits >= 4 and letters >= 4 and (upper >= 2 or digits >= 8)


@dataclass
class Redaction:
    text: str
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


Rule = Callable[[str, Counter[str]], str]


def _sub(pattern: re.Pattern[str], placeholder: str,
         accept: Callable[[re.Match[str]], bool] | None = None) -> Rule:
    def rule(text: str, counts: Counter[str]) -> str:
        def repl(m: re.Match[str]) -> str:
            if accept is not None and not accept(m):
                return m.group(0)
            counts[placeholder] += 1
            return placeholder
        return pattern.sub(repl, text)
    return rule


def _kv_secret(text: str, counts: Counter[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(4).startswith("["):  # already redacted by an earlier rule
            return m.group(0)
        counts[SECRET] += 1
        return f"{m.group(1)}{m.group(2)}{SECRET}"
    return _KV_SECRET.sub(repl, text)


def _bearer(text: str, counts: Counter[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        counts[SECRET] += 1
        return f"{m.group(1)} {SECRET}"
    return _BEARER.sub(repl, text)


def _card_ok(m: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", m.group(0))
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _phone_ok(m: re.Match[str]) -> bool:
    raw = m.group(0)
    digits = sum(c.isdigit() for c in raw)
    if not 7 <= digits <= 15 or _DATE_LIKE.match(raw):
        return False
    return raw.startswith(("+", "(")) or digits >= 10 or bool(re.search(r"[\s.-]", raw))


RULES: tuple[Rule, ...] = (
    _sub(_VENDOR_SECRET, SECRET),
    _sub(_JWT, SECRET),
    _bearer,
    _kv_secret,
    _sub(_EMAIL, EMAIL),
    _sub(_IBAN, IBAN, accept=lambda m: iban_ok(m.group(0))),
    _sub(_CARD, CARD, accept=_card_ok),
    _sub(_PHONE, PHONE, accept=_phone_ok),
    _sub(_RANDOM_TOKEN, SECRET, accept=lambda m: _looks_random(m.group(0))),
)


def redact(text: str) -> Redaction:
    """Apply every rule in order; returns the redacted text and counts per kind."""
    counts: Counter[str] = Counter()
    for rule in RULES:
        text = rule(text, counts)
    return Redaction(text, counts)
