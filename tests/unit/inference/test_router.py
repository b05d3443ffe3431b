from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from inference.router import PolicyStore, Router, RoutingPolicy, user_bucket


def test_canary_share_within_two_points_over_10000_users() -> None:
    for share in (0.05, 0.1, 0.25, 0.5):
        policy = RoutingPolicy(primary="1", canary="2", canary_share=share)
        canary = sum(policy.route(f"user-{i}")[1] == "canary" for i in range(10_000))
        assert abs(canary / 10_000 - share) <= 0.02, (share, canary)


def test_routing_is_sticky_and_monotonic_in_share() -> None:
    small = RoutingPolicy(primary="1", canary="2", canary_share=0.1)
    big = RoutingPolicy(primary="1", canary="2", canary_share=0.3)
    users = [f"u{i}" for i in range(2000)]
    first = [small.route(u) for u in users]
    assert first == [small.route(u) for u in users]  # same answer every time
    # growing the share only moves users primary -> canary, never back
    for u, (version, _) in zip(users, first, strict=True):
        if version == "2":
            assert big.route(u)[0] == "2"
    assert user_bucket("alice") == user_bucket("alice")
    assert 0 <= user_bucket("bob") < 10_000


def test_zero_share_and_no_canary_serve_primary() -> None:
    assert RoutingPolicy(primary="3", canary="4", canary_share=0.0).route("x") == ("3", "primary")
    assert RoutingPolicy(primary="3").route("x") == ("3", "primary")


def test_promote_and_rollback() -> None:
    p = RoutingPolicy(primary="1").set(canary="2", canary_share=0.2, shadow="3")
    promoted = p.promote()
    assert (promoted.primary, promoted.previous, promoted.canary) == ("2", "1", "")
    assert promoted.canary_share == 0.0 and promoted.shadow == "3"
    back = promoted.rollback("2", reason="p95")
    assert back is not None and back.primary == "1" and back.previous == ""
    assert back.history[-1]["action"] == "rollback" and back.history[-1]["reason"] == "p95"
    no_canary = p.rollback("2")
    assert no_canary is not None and no_canary.canary == "" and no_canary.canary_share == 0
    assert RoutingPolicy(primary="1").rollback("1") is None  # nothing to fall back to


def test_invalid_policies_are_rejected() -> None:
    with pytest.raises(ValueError):
        RoutingPolicy(primary="1", canary_share=1.5).validate()
    with pytest.raises(ValueError):
        RoutingPolicy.from_dict({"primary": "latest"})
    with pytest.raises(ValueError):
        RoutingPolicy.from_dict({"primary": "1", "bogus": 1})


def test_router_hot_reloads_file_changes(tmp_path: Path) -> None:
    store = PolicyStore(tmp_path / "routing.yaml")
    router = Router(store, poll_s=0.0, fallback=lambda: "7")
    assert router.current().primary == "7"  # no file: latest loaded version
    store.update(lambda p: p.set(primary="1", canary="2", canary_share=1.0))
    assert router.current().route("anyone") == ("2", "canary")
    store.update(lambda p: p.rollback("2"))
    assert router.current().route("anyone") == ("1", "primary")


def test_router_keeps_last_good_policy_on_a_broken_file(tmp_path: Path) -> None:
    store = PolicyStore(tmp_path / "routing.yaml")
    store.update(lambda p: p.set(primary="4"))
    router = Router(store, poll_s=0.0)
    (tmp_path / "routing.yaml").write_text("primary: [not, a, version\n")
    later = time.time() + 5
    os.utime(tmp_path / "routing.yaml", (later, later))
    assert router.current().primary == "4"


def test_an_empty_source_keeps_asking_the_fallback(tmp_path: Path) -> None:
    """Until the first policy is written, the router asks its fallback (the
    newest version Triton has loaded) at every poll, not only once."""

    class EmptyLog:
        path = "kafka:model-rollout/risk_scorer"

        def load(self) -> RoutingPolicy | None:
            return None

        def stamp(self) -> object:
            return None

        def update(self, change: object) -> RoutingPolicy | None:
            return None

    loaded: list[str] = []
    router = Router(EmptyLog(), poll_s=0.0, fallback=lambda: loaded[-1] if loaded else "")
    assert router.current().primary == ""
    loaded.append("3")  # Triton came up
    assert router.current().primary == "3"
