"""SessionDecider: one review per host per session, single flight, bounded, fail closed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from codex_admin.proxy import SessionDecider
from tests.proxy.helpers import make_proxy, run, start_upstream


class Reviewer:
    """Records every question; answers from a table (default ``deny``), optionally slowly."""

    def __init__(self, answers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        self.answers = answers or {}
        self.delay = delay
        self.asked: list[tuple[str, int, str]] = []
        self.release = asyncio.Event()
        self.hold = False

    async def __call__(self, host: str, port: int, protocol: str) -> tuple[str, str]:
        self.asked.append((host, port, protocol))
        if self.hold:
            await self.release.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.answers.get(host, "deny")
        return (answer, f"reviewer said {answer}")


def test_approval_is_remembered_for_the_session_and_denials_too() -> None:
    async def main() -> None:
        reviewer = Reviewer({"pypi.org": "allow"})
        decider = SessionDecider(reviewer)
        for _ in range(5):
            assert (await decider("pypi.org", 443, "https_connect"))[0] == "allow"
            assert await decider("evil.example", 443, "https_connect") == (
                "deny",
                "reviewer said deny",
            )
        assert [h for h, _, _ in reviewer.asked] == ["pypi.org", "evil.example"]
        assert decider.approved == frozenset({"pypi.org"})
        decider.approve("EVIL.example.")  # normalised like the policy's hosts
        assert (await decider("evil.example", 80, "http"))[0] == "allow"
        decider.revoke("pypi.org")
        assert (await decider("pypi.org", 443, "https_connect"))[0] == "allow"
        assert len(reviewer.asked) == 3  # asked again after the revocation

    run(main())


def test_allow_once_passes_the_request_and_is_not_remembered() -> None:
    async def main() -> None:
        reviewer = Reviewer({"pypi.org": "allow_once"})
        decider = SessionDecider(reviewer)
        for _ in range(3):
            assert await decider("pypi.org", 443, "https_connect") == (
                "allow",
                "reviewer said allow_once",
            )
        assert len(reviewer.asked) == 3 and decider.approved == frozenset()

    run(main())


def test_deny_once_refuses_the_request_and_is_not_remembered() -> None:
    async def main() -> None:
        reviewer = Reviewer({"pypi.org": "deny_once"})
        decider = SessionDecider(reviewer)
        for _ in range(3):
            assert await decider("pypi.org", 443, "https_connect") == (
                "deny",
                "reviewer said deny_once",
            )
        assert len(reviewer.asked) == 3  # a failed review is asked again, not remembered
        reviewer.answers["pypi.org"] = "allow"
        assert (await decider("pypi.org", 443, "https_connect"))[0] == "allow"
        assert decider.approved == frozenset({"pypi.org"})

    run(main())


def test_concurrent_requests_share_one_review() -> None:
    async def main() -> None:
        reviewer = Reviewer({"files.example": "allow"})
        reviewer.hold = True
        decider = SessionDecider(reviewer)
        waiters = [
            asyncio.ensure_future(decider("files.example", 443, "https_connect")) for _ in range(10)
        ]
        await asyncio.sleep(0.05)
        assert len(reviewer.asked) == 1
        reviewer.release.set()
        verdicts = await asyncio.gather(*waiters)
        assert {v[0] for v in verdicts} == {"allow"}

    run(main())


def test_ask_is_not_remembered_and_a_gone_client_does_not_cancel_the_review() -> None:
    async def main() -> None:
        reviewer = Reviewer({"later.example": "ask", "slow.example": "allow"})
        decider = SessionDecider(reviewer)
        assert (await decider("later.example", 443, "http"))[0] == "ask"
        assert (await decider("later.example", 443, "http"))[0] == "ask"
        assert len(reviewer.asked) == 2
        reviewer.hold = True
        first = asyncio.ensure_future(decider("slow.example", 443, "http"))
        await asyncio.sleep(0.02)
        first.cancel()  # the client disconnected while the reviewer was thinking
        await asyncio.sleep(0)
        reviewer.release.set()
        await asyncio.sleep(0.02)
        assert "slow.example" in decider.approved
        assert (await decider("slow.example", 443, "http"))[0] == "allow"
        assert len(reviewer.asked) == 3

    run(main())


def test_a_flood_of_hosts_is_bounded_and_a_slow_reviewer_times_out() -> None:
    async def main() -> None:
        reviewer = Reviewer()
        reviewer.hold = True
        decider = SessionDecider(reviewer, max_pending=3, timeout=0.2)
        waiters = [asyncio.ensure_future(decider(f"h{i}.example", 443, "http")) for i in range(10)]
        verdicts = await asyncio.gather(*waiters)
        assert verdicts.count(("deny", "review_busy")) == 7
        assert verdicts.count(("deny", "review_timeout")) == 3
        assert len(reviewer.asked) == 3
        # Nothing was remembered: the next request asks again.
        reviewer.hold = False
        assert await decider("h0.example", 443, "http") == ("deny", "reviewer said deny")

    run(main())


def test_remembered_denials_are_bounded() -> None:
    async def main() -> None:
        decider = SessionDecider(Reviewer(), max_remembered_denials=4)
        for i in range(10):
            await decider(f"d{i}.example", 80, "http")
        assert len(decider._denied) == 4  # the oldest are forgotten first

    run(main())


def test_a_raising_reviewer_lets_nothing_through(tmp_path: Path) -> None:
    async def broken(host: str, port: int, protocol: str) -> tuple[str, str]:
        raise RuntimeError("reviewer crashed")

    async def main() -> None:
        decider = SessionDecider(broken)
        with pytest.raises(RuntimeError):
            await decider("x.example", 443, "http")

    run(main())


def test_the_proxy_asks_the_session_decider_for_misses_only(tmp_path: Path) -> None:
    """Allow-list misses reach the reviewer once; denies and local targets never do, and an
    approval is audited as a decider override. Nothing is ever dialled beyond loopback."""

    async def scenario() -> None:
        up = await start_upstream()
        reviewer = Reviewer({"approved.example": "allow", "refused.example": "deny"})
        decider = SessionDecider(reviewer)
        guarded, _ = make_proxy(
            tmp_path,
            {"domains": {"blocked.example": "deny"}},
            answers={"refused.example": ["93.184.216.35"], "private.example": ["10.0.0.9"]},
            decider=decider,
        )
        local, _ = make_proxy(
            tmp_path,
            {"allow_local_binding": True},
            answers={"approved.example": ["127.0.0.1"]},
            decider=decider,
        )
        events = []
        local.audit.subscribe(events.append)
        async with guarded, local:
            async with httpx.AsyncClient(proxy=guarded.http_url, trust_env=False) as client:
                for _ in range(3):
                    r = await client.get("http://refused.example/")
                    assert r.status_code == 403 and r.json()["source"] == "decider"
                r = await client.get("http://blocked.example/")
                assert r.json()["reason"] == "denied"
                r = await client.get("http://private.example/")
                assert r.json()["reason"] == "not_allowed_local"
                r = await client.get("http://127.0.0.1:9/")
                assert r.json()["reason"] == "not_allowed_local"
            async with httpx.AsyncClient(proxy=local.http_url, trust_env=False) as client:
                for i in range(3):
                    r = await client.get(f"http://approved.example:{up.port}/{i}")
                    assert r.status_code == 200 and r.text.startswith(f"echo:GET /{i}")
        up.close()
        assert [h for h, _, _ in reviewer.asked] == ["refused.example", "approved.example"]
        override = [e for e in events if e.host == "approved.example"]
        assert len(override) == 3
        assert all(e.source == "decider" and e.override is True for e in override)

    run(scenario())
