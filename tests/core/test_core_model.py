"""The domain model's values: what they accept, what they refuse, and their defaults."""

import attrs
import pytest

from wnod_core.model import HostCapacity, JobFacts, JobState, Network, ReusePolicy, ScratchLayout, VmType
from wnod_core.model.fields import doc_of

GiB = 1024**3


def test_a_vm_type_needs_only_a_name_and_an_image_and_has_documented_defaults() -> None:
    t = VmType(name="atlas", image="atlas-el9.qcow2")
    assert (t.vcpus, t.memory, t.scratch_size) == (1, 2 * GiB, 10 * GiB)
    assert t.scratch_layout is ScratchLayout.RAW
    assert t.network is Network.CLOSED
    assert (t.kernel, t.initrd, t.cpuset, t.cmdline) == (None, None, None, "")
    assert t.boot_timeout == 600
    assert t.reuse == ReusePolicy(max_reuses=100, idle_ttl=1800, scratch_reset=True)
    for field in attrs.fields(VmType):
        assert doc_of(field), f"VmType.{field.name} has no doc for the configuration reference"


def test_vm_type_sizes_and_durations_are_parsed_from_admin_spelling() -> None:
    t = VmType(
        name="cms",
        image="cms.img",
        memory="4GiB",
        scratch_size="20G",
        boot_timeout="15m",
        reuse=ReusePolicy(idle_ttl="1h"),
        scratch_layout="overlay",
        network="open",
    )
    assert (t.memory, t.scratch_size, t.boot_timeout, t.reuse.idle_ttl) == (4 * GiB, 20 * 1000**3, 900, 3600)
    assert t.scratch_layout is ScratchLayout.OVERLAY
    assert t.network is Network.OPEN


def test_changes_go_through_evolve_and_are_validated() -> None:
    t = VmType(name="atlas", image="atlas.img")
    assert attrs.evolve(t, memory="8GiB").memory == 8 * GiB
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        t.memory = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="lots"):
        attrs.evolve(t, memory="lots")


@pytest.mark.parametrize("name", ["atlas", "cms-el9", "a", "x.y_z-1", "0day", "a" * 63])
def test_plain_vm_type_names_are_accepted(name: str) -> None:
    assert VmType(name=name, image="img").name == name


@pytest.mark.parametrize(
    "name", ["Atlas", "-atlas", ".hidden", "has space", "a/b", "", "a" * 64, "ätlas", 7, None]
)
def test_vm_type_names_that_cannot_be_domain_or_file_names_are_refused(name: object) -> None:
    with pytest.raises(ValueError, match="VM type name must be lowercase") as err:
        VmType(name=name, image="img")  # type: ignore[arg-type]
    assert repr(name) in str(err.value)


@pytest.mark.parametrize("image", ["atlas.qcow2", "EL9_base-2024.raw", "a"])
def test_image_names_inside_the_store_are_accepted(image: str) -> None:
    assert VmType(name="t", image=image, kernel=image, initrd=image).image == image


@pytest.mark.parametrize(
    "image", ["../etc/passwd", "a/b.img", "/abs.img", "a..b", "..", ".img", "", "x" * 256, None]
)
def test_image_names_that_could_escape_the_store_are_refused(image: object) -> None:
    with pytest.raises(ValueError, match="expected a file name inside the image store"):
        VmType(name="t", image=image)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["kernel", "initrd"])
def test_kernel_and_initrd_are_image_store_names_too(field: str) -> None:
    with pytest.raises(ValueError, match="inside the image store"):
        VmType(name="t", image="t.img", **{field: "../vmlinuz"})


@pytest.mark.parametrize("cpuset", ["2-5", "0,2,4", "7", "0-3,8-11"])
def test_cpusets_like_libvirt_takes_are_accepted(cpuset: str) -> None:
    assert VmType(name="t", image="t.img", cpuset=cpuset).cpuset == cpuset


@pytest.mark.parametrize("cpuset", ["a-b", "2-", "0,,2", "0 2", "", "^3", 3])
def test_malformed_cpusets_are_refused(cpuset: object) -> None:
    with pytest.raises(ValueError, match=r'expected host CPUs like "2-5" or "0,2,4"'):
        VmType(name="t", image="t.img", cpuset=cpuset)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"vcpus": 0}, "vcpus"),
        ({"memory": "lots"}, '"lots"'),
        ({"scratch_size": -1}, "-1"),
        ({"boot_timeout": "soon"}, '"soon"'),
        ({"scratch_layout": "zfs"}, "zfs"),
        ({"network": "half-open"}, "half-open"),
    ],
)
def test_bad_sizes_and_choices_are_refused(changes: dict, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        VmType(name="t", image="t.img", **changes)


def test_reuse_policy_refuses_negative_reuses_and_bad_ttls() -> None:
    assert ReusePolicy(max_reuses=0).max_reuses == 0
    with pytest.raises(ValueError, match="max_reuses"):
        ReusePolicy(max_reuses=-1)
    with pytest.raises(ValueError, match="duration"):
        ReusePolicy(idle_ttl="forever")


# -- job facts ------------------------------------------------------------------------------------


def test_job_facts_carry_what_the_batch_system_says() -> None:
    job = JobFacts(
        batch_system="slurm", job_id="4242.0", user="alice", groups=["atlas", "users"], queue="long"
    )
    assert job.groups == ("atlas", "users")
    assert job.primary_group == "atlas"
    assert job.state is JobState.PENDING
    assert job.exec_hosts == ()
    assert JobFacts(batch_system="lsf", job_id="1", user="bob").primary_group is None


@pytest.mark.parametrize("job_id", ["", " ", "12 34", "12\n", "\t"])
def test_job_ids_must_be_one_word(job_id: str) -> None:
    with pytest.raises(ValueError, match="job id must be a non-empty word") as err:
        JobFacts(batch_system="slurm", job_id=job_id, user="alice")
    assert repr(job_id) in str(err.value)


def test_a_group_name_string_is_not_split_into_letters() -> None:
    try:
        groups = "atlas"
        job = JobFacts(batch_system="lsf", job_id="1", user="alice", groups=groups)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return  # refusing a bare string is fine too
    assert job.groups == ("atlas",)


def test_job_states_that_are_over() -> None:
    assert {s for s in JobState if s.is_over} == {JobState.FINISHED, JobState.FAILED, JobState.CANCELLED, JobState.UNKNOWN}


# -- host capacity --------------------------------------------------------------------------------


def test_host_capacity_reads_sizes_and_defaults() -> None:
    assert HostCapacity(memory="8GiB").memory == 8 * GiB
    assert HostCapacity() == HostCapacity(vcpus=1, memory=2 * GiB, max_vwns=1)


@pytest.mark.parametrize(
    ("used", "wanted", "fits"),
    [
        ((0, 0, 0), (8, 16 * GiB), True),  # exactly the whole host
        ((0, 0, 0), (9, 1 * GiB), False),  # one vCPU too many
        ((0, 0, 0), (1, 16 * GiB + 1), False),  # one byte too many
        ((4, 8 * GiB, 3), (4, 8 * GiB), True),  # fills the last slot exactly
        ((1, 1 * GiB, 4), (1, 1 * GiB), False),  # no VWN slot left
        ((7, 15 * GiB, 1), (1, 1 * GiB), True),
        ((7, 15 * GiB, 1), (2, 1 * GiB), False),
        ((7, 15 * GiB, 1), (1, 1 * GiB + 1), False),
    ],
)
def test_host_capacity_fits_counts_vcpus_memory_and_slots(used: tuple, wanted: tuple, fits: bool) -> None:
    host = HostCapacity(vcpus=8, memory="16GiB", max_vwns=4)
    used_vcpus, used_memory, used_vwns = used
    vcpus, memory = wanted
    assert host.fits(used_vcpus, used_memory, used_vwns, vcpus, memory) is fits
