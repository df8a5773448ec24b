"""What the tests do to the emulated cluster beyond the adapter: the contract suite's driver and helpers."""

from collections.abc import Sequence

from wnod_core.errors import BatchSystemError
from wnod_core.kits.accounts import Account
from wnod_core.testing.contracts.batch import BatchDriver, HookCall, JobOwner

from .cli import bkill
from .cluster import Cluster, LsfError

ACCOUNTS = {
    "alice": Account(uid=20001, groups=("atlas", "users")),
    "bob": Account(uid=20002, groups=("cms",)),
}
"""The account database the tests' adapter asks instead of this host's NSS."""

BAIT = "bait01"


def fake_accounts(user: str) -> Account:
    return ACCOUNTS.get(user, Account())


def calls(cluster: Cluster) -> list[list[str]]:
    """The emulated commands run so far, each as [name, *args]."""
    return cluster.read()["calls"]


class EmulatedLsf(BatchDriver):
    """The contract suite's driver: submits, dispatches and cancels as LSF's users and mbatchd would."""

    settle_timeout = 0.0
    unknown_job_id = "987654321"

    def __init__(self, cluster: Cluster, declared: bool = False):
        self.cluster = cluster
        if declared:  # the VWN names are in lsf.cluster: known to LSF, unavail until they boot
            for name in self.vwn_hostnames():
                cluster.add_host(name, status="unavail")

    def submit(self, owner: JobOwner) -> str:
        return self.cluster.submit(owner.user, owner.queue)[0]

    def vwn_hostnames(self) -> Sequence[str]:
        return ("hv01-vwn1", "hv01-vwn2")

    def register_host(self, hostname: str) -> None:
        self.cluster.add_host(hostname)

    def start(self, job_id: str) -> str:
        job = self.cluster.read()["jobs"][job_id]
        if job["stat"] == "RUN":  # brun dispatched it already
            return job["exec"][0]
        try:
            return self.cluster.dispatch(job_id)
        except LsfError as exc:
            raise BatchSystemError(str(exc)) from None

    def cancel(self, job_id: str) -> None:
        bkill(self.cluster, [job_id])

    def hook_call(self, job_id: str) -> HookCall:
        base, _, index = job_id.partition("[")
        env = {
            "LSB_JOBID": base,
            "LSB_JOBINDEX": index.rstrip("]") or "0",
            "LSB_HOSTS": BAIT,
            "LSB_MCPU_HOSTS": f"{BAIT} 1",
            "LSB_QUEUE": "short",
            "PATH": "/bin:/usr/bin:/sbin:/usr/sbin",
        }
        return HookCall(environ=env, argv=(), bait_host=BAIT)
