"""The columns `wnod vms` and `wnod farm vms` show of a VWN: its size and image version among them."""

from wnod_core.cli.rows import VWN_COLUMNS, vwn_row


def _vwn(**changes):
    return {"id": "hv01-s1-abc", "vm_type": "el9", "state": "idle", "hostname": "hv01-vwn1", "job_id": None,
            "reuse_count": 2, "created_at": 100.0, "image_version": "3", "vcpus": 4, "memory": 6 * 1024**3,
            **changes}


def test_a_vwn_row_shows_its_size_and_image_version():
    row = dict(zip(VWN_COLUMNS, vwn_row(_vwn(), now=190.0), strict=True))
    assert row == {"ID": "hv01-s1-abc", "TYPE": "el9", "SIZE": "4c/6GiB", "VERSION": "3", "STATE": "idle",
                   "HOSTNAME": "hv01-vwn1", "JOB": "-", "AGE": "1m30s", "REUSES": 2}


def test_a_vwn_of_no_recorded_size_or_version_or_from_an_older_daemon_shows_dashes():
    row = dict(zip(VWN_COLUMNS, vwn_row(_vwn(vcpus=0, image_version=""), now=100.0), strict=True))
    assert (row["SIZE"], row["VERSION"]) == ("-", "-")
    older = {k: v for k, v in _vwn().items() if k not in ("vcpus", "memory", "image_version")}
    row = dict(zip(VWN_COLUMNS, vwn_row(older, now=100.0), strict=True))
    assert (row["SIZE"], row["VERSION"]) == ("-", "-")
