"""The mesh's id alphabet: fullmatch only (no trailing-newline loophole)."""

from __future__ import annotations

from mlmesh.ids import RECORD_ID_RULE, USER_ID_RULE, is_record_id, is_user_id


def test_ids() -> None:
    assert is_record_id("a" * 128) and not is_record_id("a" * 129)
    assert is_user_id("u-1:x.y_z") and is_user_id("a" * 64) and not is_user_id("a" * 65)
    for bad in ("", "u1\n", "u 1", "u/1", "ü"):
        assert not is_record_id(bad) and not is_user_id(bad)
    assert RECORD_ID_RULE == "must match [A-Za-z0-9_.:-]{1,128}"
    assert USER_ID_RULE == "must match [A-Za-z0-9_.:-]{1,64}"
