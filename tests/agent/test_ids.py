"""Thread and turn ids are random version-4 UUIDs in canonical form (formatted without uuid)."""

from __future__ import annotations

import uuid

from codex_admin.agent.session import new_thread_id, random_uuid


def test_ids_are_distinct_canonical_version_4_uuids() -> None:
    ids = [new_thread_id() for _ in range(200)] + [random_uuid() for _ in range(200)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
