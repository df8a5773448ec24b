"""What several plugins need, written once: each module a kit for one kind of outside thing."""
