"""PII rules: a table of texts that must be redacted, and of look-alikes that must not."""

from __future__ import annotations

import pytest

from embedder.pii import CARD, EMAIL, IBAN, PHONE, SECRET, iban_ok, luhn_ok, redact

POSITIVE = [
    # (text, secret that must disappear, placeholder expected)
    ("mail me at jane.doe+news@example.co.uk today", "jane.doe+news@example.co.uk", EMAIL),
    ("contact: BOB_99@mail-server.example.org.", "BOB_99@mail-server.example.org", EMAIL),
    ("call +1 415 555 0132 now", "+1 415 555 0132", PHONE),
    ("call +44 20 7946 0958", "+44 20 7946 0958", PHONE),
    ("or call +1 415-555-0042", "+1 415-555-0042", PHONE),
    ("office (555) 123-4567 ext", "(555) 123-4567", PHONE),
    ("cell 555-123-4567.", "555-123-4567", PHONE),
    ("cell 555.123.4567", "555.123.4567", PHONE),
    ("phone 030 1234 5678", "030 1234 5678", PHONE),
    ("whatsapp +4915112345678", "+4915112345678", PHONE),
    ("phone 5551234567 please", "5551234567", PHONE),
    ("card 4111 1111 1111 1111 exp 12/27", "4111 1111 1111 1111", CARD),
    ("card 4111-1111-1111-1111", "4111-1111-1111-1111", CARD),
    ("amex 378282246310005", "378282246310005", CARD),
    ("pay to DE89 3704 0044 0532 0130 00 thanks", "DE89 3704 0044 0532 0130 00", IBAN),
    ("iban GB82WEST12345698765432", "GB82WEST12345698765432", IBAN),
    ("key sk-proj-AbCdEf0123456789XyZ used", "sk-proj-AbCdEf0123456789XyZ", SECRET),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", SECRET),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
     SECRET),
    ("aws AKIAIOSFODNN7EXAMPLE key", "AKIAIOSFODNN7EXAMPLE", SECRET),
    ("slack xoxb-123456789012-abcdefghij", "xoxb-123456789012-abcdefghij", SECRET),
    ("api_key=abc123def456 in config", "abc123def456", SECRET),
    ("password: hunter2hunter", "hunter2hunter", SECRET),
    ('"secret": "s3cr3t-v4lue"', "s3cr3t-v4lue", SECRET),
    ("my token is Zx81kQ0pLm", "Zx81kQ0pLm", SECRET),
    ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234", SECRET),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r", SECRET),
    ("blob 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 end",
     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", SECRET),
]

NEGATIVE = [
    "meeting on 2024-01-15 at 10:30",
    "dated 15.01.2024 and 01/15/2024",
    "version 1.2.3 released, build 2.10.4",
    "total 1234.56 EUR for 3 items",
    "order #48213 shipped to zip 94105",
    "in 1999 we had 42 users",
    "card ending 4242 declined",
    "4111 1111 1111 1112 is not a valid card",  # fails Luhn, 16 digits: not a phone
    "DE00 3704 0044 0532 0130 00 is not an iban",  # fails mod 97
    "the password field is required",
    "the token bucket refills",
    "see https://example.com/docs/page",
    "an ordinary sentence with supercalifragilisticexpialidocious words",
    "user@ alone, @handle, a@b",
    "ratio 3/4 and 10-20 items",
]


@pytest.mark.parametrize(("text", "secret", "placeholder"), POSITIVE)
def test_redacts(text: str, secret: str, placeholder: str) -> None:
    out = redact(text)
    assert secret not in out.text, out.text
    assert placeholder in out.text, out.text
    assert out.counts[placeholder] >= 1
    assert out.total >= 1


@pytest.mark.parametrize("text", NEGATIVE)
def test_leaves_lookalikes(text: str) -> None:
    out = redact(text)
    assert out.text == text
    assert out.total == 0


def test_several_kinds_in_one_text() -> None:
    text = ("Hi, I'm ann@example.com, phone +1 (415) 555-0100, card 5555 5555 5555 4444, "
            "api_key=ZZtop1234secret")
    out = redact(text)
    for secret in ("ann@example.com", "555-0100", "5555 5555 5555 4444", "ZZtop1234secret"):
        assert secret not in out.text
    assert out.counts[EMAIL] == 1 and out.counts[CARD] == 1 and out.counts[SECRET] == 1
    assert out.counts[PHONE] == 1
    assert out.text.startswith("Hi, I'm [EMAIL], phone [PHONE]")


def test_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB83WEST12345698765432")


def test_redaction_is_idempotent() -> None:
    once = redact("x jane@example.com 4111111111111111 +1 415 555 0132").text
    assert redact(once).text == once
