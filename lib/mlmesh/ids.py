"""The id alphabet of the mesh: record ids (event, document, label ids) and
user ids are ``[A-Za-z0-9_.:-]``, at most 128 and 64 characters.

Always check with ``fullmatch`` (or the helpers below): a ``^...$`` pattern
with ``match``/``search`` would accept a trailing newline.
"""

from __future__ import annotations

import re
import string

ID_CHARS = string.ascii_letters + string.digits + "_.:-"
RECORD_ID_MAX, USER_ID_MAX = 128, 64
_CLASS = "[" + re.escape(ID_CHARS) + "]"
RECORD_ID = re.compile(f"{_CLASS}{{1,{RECORD_ID_MAX}}}")
USER_ID = re.compile(f"{_CLASS}{{1,{USER_ID_MAX}}}")
# The rule as error messages state it, after "<field>: "
RECORD_ID_RULE = "must match [A-Za-z0-9_.:-]{1,128}"
USER_ID_RULE = "must match [A-Za-z0-9_.:-]{1,64}"


def is_record_id(s: str) -> bool:
    return RECORD_ID.fullmatch(s) is not None


def is_user_id(s: str) -> bool:
    return USER_ID.fullmatch(s) is not None
