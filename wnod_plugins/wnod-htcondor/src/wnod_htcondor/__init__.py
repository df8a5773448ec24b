"""wnod's HTCondor adapter.

Jobs are read with ``condor_q -json``, VWN startds with ``condor_status -json``. A job
is migrated by one ``condor_qedit`` transaction that names its VWN (``WnodVwn``) and
wraps its ``Requirements`` so it matches that machine only; a VWN's startd admits only
the job naming it (its ``START`` expression, see contrib/htcondor/). The bait is a
prepare-job hook on the bait startds. The core finds the adapter through the ``wnod``
entry point ``htcondor`` (see ``plugin.py``).
"""
