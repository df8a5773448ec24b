"""Every VM type a resolver's options name must be configured: caught at start-up, at its exact key."""

from collections.abc import Callable
from typing import Any

import pytest
from wnod_core.errors import ConfigError


@pytest.mark.parametrize(
    ("name", "options", "path"),
    [
        ("by-user", {"map": {"alice": "atlas", "bob": "cm"}}, "resolvers[1].map.bob"),
        ("by-group", {"map": {"cms": "cm"}}, "resolvers[1].map.cms"),
        ("by-queue", {"map": {"short": "cm"}}, "resolvers[1].map.short"),
        ("requested", {"allow": {"cm": {"users": ["*"]}}}, "resolvers[1].allow.cm"),
        ("default", {"vm_type": "cm"}, "resolvers[1].vm_type"),
    ],
)
def test_an_unknown_type_is_named_at_its_key_with_a_hint(
    build: Callable[..., Any], name: str, options: dict[str, Any], path: str
) -> None:
    with pytest.raises(ConfigError) as err:
        build(name, options)
    assert [(p.path, p.message) for p in err.value.problems] == [
        (path, 'unknown VM type "cm" (did you mean "cms"?); configured: atlas, cms, el9, sl6')
    ]


def test_every_unknown_type_of_a_map_is_listed(build: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as err:
        build("by-user", {"map": {"alice": "Atlas", "bob": "cms", "carol": "zzz"}})
    assert [p.path for p in err.value.problems] == ["resolvers[1].map.alice", "resolvers[1].map.carol"]
    assert 'did you mean "atlas"' in err.value.problems[0].message


def test_with_no_types_configured_the_message_says_so(build: Callable[..., Any]) -> None:
    with pytest.raises(ConfigError) as err:
        build("default", {"vm_type": "sl6"}, vm_types={})
    assert "no VM types are configured" in str(err.value)
