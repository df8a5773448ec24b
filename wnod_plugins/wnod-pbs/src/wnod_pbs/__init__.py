"""wnod's batch-system adapter for PBS: OpenPBS / PBS Professional and Torque.

One plugin, ``pbs``; ``[batch.pbs] flavour`` chooses the dialect of the commands
(JSON from OpenPBS, XML or text from Torque). The core finds it through the ``wnod``
entry point ``pbs`` (see ``plugin.py``).
"""
