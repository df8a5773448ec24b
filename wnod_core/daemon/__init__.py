"""The host daemon: the engine served over an HTTP API on a Unix socket."""
