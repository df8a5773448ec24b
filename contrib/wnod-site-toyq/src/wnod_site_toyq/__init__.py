"""A template batch-system adapter for wnod, for toyq: a small, made-up command-line batch system
whose commands README.md documents.

``adapter.py`` is the ``BatchSystem``, one toyq command a method; ``parse.py`` reads what toyq
prints; ``bait.py`` is what ``wnod bait`` reads from toyq's start hook and answers it;
``options.py`` is ``[batch.toyq]``; ``plugin.py`` is the entry point the core loads.
"""

NAME = "toyq"
"""The plugin's name (``[batch] system = "toyq"``) and the ``batch_system`` of the facts it reads."""
