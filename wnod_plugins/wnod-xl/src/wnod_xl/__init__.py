"""wnod's Xen ``xl`` backend: each VWN is a Xen PV domain made from an xl config file.

``config.py`` turns a VWN into an xl config (values quoted so none can add a key),
``xl.py`` runs the ``xl`` command and reads what it prints, ``records.py`` keeps the
sidecar record by which wnod knows its own domains after a restart, and
``backend.py`` is the ``Hypervisor`` the engine drives. The core finds it through
the ``wnod`` entry point ``xl`` (see ``plugin.py``).
"""
