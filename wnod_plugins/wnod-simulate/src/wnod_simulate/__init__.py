"""wnod simulate: a capacity simulator that replays a batch trace through wnod's own placement code."""
