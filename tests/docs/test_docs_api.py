"""docs/api.md documents exactly the routes the daemon serves."""

import re
from pathlib import Path

from wnod_core.daemon.api import NO_ROUTE, make_app

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    app = make_app(engine=None, started={})  # type: ignore[arg-type]  # routes only, never served
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD" and route.resource.canonical != NO_ROUTE  # the catch-all 404/405
    }
    documented = set(re.findall(r"^### `([A-Z]+) (/\S+)`$", API_MD.read_text(), re.M))
    assert documented == served, f"docs/api.md and wnod_core/daemon/api.py disagree: {documented ^ served}"


def test_every_route_says_the_role_it_needs() -> None:
    from wnod_core.daemon.api import ROUTES

    needed = {f"{method} {path}": str(role) for method, path, _handler, role in ROUTES}
    documented = dict(re.findall(r"^### `([A-Z]+ /\S+)`\n\nRole: \*\*(\w+)\*\*\.$", API_MD.read_text(), re.M))
    assert documented == needed
