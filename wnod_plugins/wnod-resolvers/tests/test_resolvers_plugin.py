"""What the distribution registers, and that a farm admin can read how to configure it."""

import attrs
from wnod_core.model.fields import doc_of
from wnod_core.plugins import Plugins
from wnod_core.reference import plugin_reference

NAMES = {"by-user", "by-group", "by-queue", "requested", "default"}


def test_registers_the_standard_resolvers(plugins: Plugins) -> None:
    assert set(plugins.resolvers()) == NAMES


def test_each_has_a_one_line_summary_and_documented_options(plugins: Plugins) -> None:
    for name, record in plugins.resolvers().items():
        assert record.summary and "\n" not in record.summary, name
        assert record.options is not None and attrs.has(record.options), name
        for field in attrs.fields(record.options):
            assert doc_of(field), f"{name}: option {field.name} is undocumented"


def test_the_reference_explains_the_group_priority_and_the_request_policy(plugins: Plugins) -> None:
    by_group = plugins.lookup("resolvers", "by-group")
    requested = plugins.lookup("resolvers", "requested")
    assert "listed first" in plugin_reference("by-group", by_group.options, by_group.summary)
    text = plugin_reference("requested", requested.options, requested.summary)
    assert "`users`" in text and "`groups`" in text and "refused" in text
