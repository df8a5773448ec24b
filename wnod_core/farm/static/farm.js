// wnod farm web: draws farm.json (see wnod_core/farm/snapshot.py) and asks for it again every
// EVERY_MS. Every text that comes from the daemons, the batch systems or the users (job ids,
// user names, details) goes into the page as text (textContent), never as markup.
"use strict";

const EVERY_MS = 3000;
const STATES = ["creating", "booting", "ready", "running", "cleaning", "idle", "destroying"];

let latest = null;     // the last farm.json that came
let selected = null;   // {host, vwn, job}: the VWN whose job the side panel shows

// An element with its class, its text and its children; `data` becomes data-* attributes.
function el(tag, {cls = "", text = null, data = {}} = {}, ...children) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== null) node.textContent = String(text);
  for (const [key, value] of Object.entries(data)) node.dataset[key] = String(value);
  node.append(...children.filter((c) => c));
  return node;
}

function facts(pairs, list = el("dl")) {
  list.replaceChildren();
  for (const [name, value] of pairs) list.append(el("dt", {text: name}), el("dd", {text: value}));
  return list;
}

function stateClass(state) {
  return STATES.includes(state) ? `state-${state}` : "state-other";
}

function clock(unix) {
  const t = new Date(unix * 1000);
  return [t.getHours(), t.getMinutes(), t.getSeconds()].map((n) => String(n).padStart(2, "0")).join(":");
}

function age(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function size(bytes) {
  const gib = bytes / 2 ** 30;
  return gib >= 1 ? `${+gib.toFixed(1)} GiB` : `${Math.round(bytes / 2 ** 20)} MiB`;
}

function tile(host, vwn, at) {
  const job = vwn.job;
  const body = [
    el("span", {cls: "vwn-state-name", text: vwn.state}),
    el("span", {cls: "vwn-id", text: vwn.id}),
    facts([
      ["node", vwn.hostname],
      ["type", vwn.vm_type],
      ["job", vwn.job_id || (job ? job.job_id : "-")],
      ["owner", job ? job.user : "-"],
      ["age", age(at - vwn.created_at)],
      ["reuses", vwn.reuse_count],
      ["image", vwn.image_version || "-"],
      ["size", vwn.vcpus ? `${vwn.vcpus} vCPU${vwn.vcpus > 1 ? "s" : ""}, ${size(vwn.memory)}` : "-"],
    ]),
  ];
  const data = {host: host.name, vwn: vwn.id, state: vwn.state};
  if (!job) return el("div", {cls: `vwn ${stateClass(vwn.state)}`, data}, ...body);
  const button = el("button", {cls: `vwn ${stateClass(vwn.state)}`, data}, ...body);
  button.type = "button";
  button.title = `job ${job.job_id}: its path`;
  if (selected && selected.host === host.name && selected.vwn === vwn.id) button.classList.add("selected");
  button.addEventListener("click", () => {
    selected = {host: host.name, vwn: vwn.id, job: job.job_id};
    draw(latest);
  });
  return button;
}

function hostBox(host, at) {
  const box = el("section", {cls: "host", data: {host: host.name, state: host.state}},
    el("header", {}, el("h2", {text: host.name}), el("span", {cls: "address", text: host.address}),
       el("span", {cls: `badge host-${host.state}`, text: host.state})));
  if (host.error) box.append(el("p", {cls: "error", text: host.error}));
  if (host.capacity) {
    const c = host.capacity;
    box.append(el("p", {cls: "capacity",
                        text: `slots ${c.vwns.used}/${c.vwns.total} · vCPUs ${c.vcpus.used}/${c.vcpus.total}`}));
  }
  if (host.notes.length) box.append(el("ul", {cls: "notes"}, ...host.notes.map((n) => el("li", {text: n}))));
  if (host.state !== "UNREACHABLE") {
    box.append(host.vwns.length
      ? el("div", {cls: "tiles"}, ...host.vwns.map((v) => tile(host, v, at)))
      : el("p", {cls: "empty", text: "no VWNs"}));
  }
  if (host.waiting.length) {
    box.append(el("div", {cls: "waiting"}, el("h3", {text: "jobs on no VWN yet"}),
      el("ul", {}, ...host.waiting.map((j) => el("li", {data: {job: j.job_id},
                                                       text: `${j.job_id} · ${j.user} · ${j.step}`})))));
  }
  return box;
}

function summary(data) {
  const up = data.hosts.filter((h) => h.state !== "UNREACHABLE").length;
  const counts = {};
  for (const h of data.hosts) for (const v of h.vwns) counts[v.state] = (counts[v.state] || 0) + 1;
  const vwns = Object.entries(counts).sort().map(([s, n]) => `${n} ${s}`).join(", ") || "none";
  return `${up} of ${data.hosts.length} hosts answered · VWNs: ${vwns} · as of ${clock(data.at)}`;
}

// The side panel: the selected VWN's job, its steps in the order they came, with their times.
function showJob(data) {
  const panel = document.getElementById("job");
  if (!selected) {
    panel.hidden = true;
    return;
  }
  const host = data.hosts.find((h) => h.name === selected.host);
  const vwn = host && host.vwns.find((v) => v.id === selected.vwn);
  const job = vwn && vwn.job && vwn.job.job_id === selected.job ? vwn.job
    : host && host.waiting.find((j) => j.job_id === selected.job);
  panel.hidden = false;
  document.getElementById("job-title").textContent = `job ${selected.job} on ${selected.host}`;
  const detail = document.getElementById("job-detail");
  const steps = document.getElementById("job-steps");
  if (!job) {
    document.getElementById("job-facts").replaceChildren();
    detail.replaceChildren(el("span", {cls: "gone", text: host && host.state === "UNREACHABLE"
      ? `${selected.host} does not answer: ${host.error}`
      : "no longer in flight here: it ended, or went back to the batch system"}));
    steps.replaceChildren();
    return;
  }
  const stuck = job.stuck_since ? ` — STUCK: ${job.stuck_why}` : "";
  facts([
    ["user", job.user], ["step", job.step + stuck], ["VM type", job.vm_type || "-"],
    ["VWN", job.vwn_id || "-"], ["bait", job.bait_host], ["boots tried", job.attempts],
    ["reused", job.reused === null ? "-" : job.reused ? "yes" : "no"],
  ], document.getElementById("job-facts"));
  detail.textContent = job.detail || "";
  const times = Object.entries(job.times || {}).sort((a, b) => a[1] - b[1]);
  const first = times.length ? times[0][1] : 0;
  steps.replaceChildren(...times.map(([step, t]) => el("li", {data: {step}}, el("span", {text: step}),
    el("span", {cls: "step-time", text: `${clock(t)} (+${age(t - first)})`}))));
}

function draw(data) {
  document.getElementById("summary").textContent = summary(data);
  document.getElementById("farm").replaceChildren(...data.hosts.map((h) => hostBox(h, data.at)));
  showJob(data);
}

function trouble(text) {
  const banner = document.getElementById("trouble");
  banner.textContent = text;
  banner.hidden = !text;
}

async function refresh() {
  try {
    const answer = await fetch("farm.json", {cache: "no-store", credentials: "same-origin"});
    const data = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(data.error || `HTTP ${answer.status}`);
    latest = data;
    draw(data);
    trouble("");
  } catch (err) {
    const since = latest ? ` The map below is the farm at ${clock(latest.at)}.` : "";
    trouble(`wnod farm web does not answer: ${err.message}.${since}`);
  } finally {
    setTimeout(refresh, EVERY_MS);
  }
}

document.getElementById("job-close").addEventListener("click", () => {
  selected = null;
  if (latest) draw(latest);
});
refresh();
