"""wnod's standard VM-type resolvers, chained by a site's ``[[resolvers]]`` tables.

``by-user``, ``by-group`` and ``by-queue`` map a fact the batch system vouches for
to a VM type; ``requested`` honours the type a job asks for when site policy lets
its owner ask for it; ``default`` answers every job and goes last. The core finds
them through the ``wnod`` entry point ``resolvers`` (see ``plugin.py``).
"""
