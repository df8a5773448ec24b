"""Reading Torque: ``qstat -f -x`` XML, ``qstat -f`` text, ``pbsnodes -x`` XML.

Shapes from Torque's qstat(1) and pbsnodes(8) and the code that prints them
(src/cmds/qstat.c ``create_full_job_xml`` and ``prt_attr``, src/cmds/pbsnodes.c
``addxmlnode``): XML is ``<Data><Job><Job_Id>..</Job_Id><attr>..</attr>
<Resource_List><res>..</res></Resource_List>..</Job></Data>`` on one line; the text form
is ``Job Id: ID`` then ``    name = value`` lines, long values wrapped at commas (or, for
one long item, anywhere) onto continuation lines that start with a tab.
"""

import re
import xml.etree.ElementTree as ET

from wnod_core.errors import Garbled

from .formats import node_state_words
from .records import JobRecord, NodeRecord


def _data(text: str) -> ET.Element:
    try:
        root = ET.fromstring(text.strip())
    except (ET.ParseError, ValueError, RecursionError) as exc:
        raise Garbled(f"not XML ({exc})") from None
    if root.tag != "Data":
        raise Garbled(f"XML root is <{root.tag}>, not <Data>")
    return root


def jobs_xml(text: str) -> dict[str, JobRecord]:
    """Every job of ``qstat -f -x`` output, by id."""
    if not text.strip():
        return {}
    found: dict[str, JobRecord] = {}
    for job in _data(text):
        if job.tag != "Job":
            raise Garbled(f"<Data> holds <{job.tag}>, not <Job>")
        attributes: dict[str, object] = {}
        for element in job:
            if len(element):
                attributes[element.tag] = {sub.tag: (sub.text or "") for sub in element}
            else:
                attributes[element.tag] = element.text or ""
        job_id = attributes.pop("Job_Id", "")
        if not isinstance(job_id, str) or not job_id:
            raise Garbled("a <Job> has no <Job_Id>")
        found[job_id] = JobRecord.from_attributes(job_id, attributes)
    return found


_ATTR_LINE = re.compile(r"^ {4}([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_.-]+))? = (.*)\Z")


def jobs_text(text: str) -> dict[str, JobRecord]:
    """Every job of ``qstat -f`` text output, by id; wrapped lines joined back."""
    found: dict[str, JobRecord] = {}
    job_id = ""
    attributes: dict[str, object] = {}
    last: tuple[str, str | None] | None = None

    def close() -> None:
        if job_id:
            found[job_id] = JobRecord.from_attributes(job_id, attributes)

    for line in text.splitlines():
        if line.startswith("Job Id: "):
            close()
            job_id, attributes, last = line[len("Job Id: "):].strip(), {}, None
            if not job_id:
                raise Garbled("a Job Id line names no job")
            continue
        if not line.strip():
            continue
        if not job_id:
            raise Garbled(f"text before the first Job Id: {line!r}")
        if line.startswith("\t"):
            if last is None:
                raise Garbled(f"a continuation line follows no attribute: {line!r}")
            name, resource = last
            if resource is None:
                attributes[name] = str(attributes[name]) + line[1:]
            else:
                bucket = attributes[name]
                assert isinstance(bucket, dict)
                bucket[resource] += line[1:]
            continue
        m = _ATTR_LINE.match(line)
        if not m:
            raise Garbled(f"not a 'name = value' line: {line!r}")
        name, resource, value = m.groups()
        if resource is None:
            attributes[name] = value
        else:
            bucket = attributes.setdefault(name, {})
            if not isinstance(bucket, dict):
                raise Garbled(f"{name} is both a value and a resource list")
            bucket[resource] = value
        last = (name, resource)
    close()
    return found


def _booted(status: str, name: str) -> float | None:
    """When the node's MOM host booted, from its status (``rectime`` less ``uptime``), if it says."""
    values = dict(item.partition("=")[::2] for item in status.split(",") if "=" in item)
    try:
        return float(values["rectime"]) - float(values["uptime"])
    except KeyError:
        return None
    except ValueError:
        raise Garbled(f"node {name}: status has rectime={values.get('rectime')!r}, uptime={values.get('uptime')!r}")


def nodes_xml(text: str) -> list[NodeRecord]:
    """The nodes of ``pbsnodes -x`` output."""
    records: list[NodeRecord] = []
    for node in _data(text):
        if node.tag != "Node":
            raise Garbled(f"<Data> holds <{node.tag}>, not <Node>")
        fields = {element.tag: (element.text or "") for element in node}
        name, state = fields.get("name", ""), fields.get("state", "")
        if not name:
            raise Garbled("a <Node> has no <name>")
        node_state_words(state)
        jobs: list[str] = []
        for slot in filter(None, (s.strip() for s in fields.get("jobs", "").split(","))):
            job = slot.partition("/")[2] or slot
            if job not in jobs:
                jobs.append(job)
        records.append(NodeRecord(name=name, state=state, comment=fields.get("note", ""), jobs=tuple(jobs),
                                  since=_booted(fields.get("status", ""), name)))
    return records
