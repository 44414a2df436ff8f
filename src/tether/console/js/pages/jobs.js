// EMQX Fleets jobs (/api/v1/jobs): the list (paged on the server, newest first) with each job's progress by
// execution status, a new job (document, target things and groups, SNAPSHOT or CONTINUOUS, timeouts), a job's
// page with its executions (paged, filter by status), cancelling the job or one execution (force for one
// IN_PROGRESS). No real-time channel carries job executions (they are not operations): both pages read the
// Fleets API again every 3 s while shown.

import { api } from "../api.js";
import { empty, errorBox, field, h, replace, timeEl, toast } from "../dom.js";
import { fleetsNav, jsonObject, pager, splitNames, statusBadge, table } from "./fleets_common.js";

const LIMIT = 20;
const POLL_MS = 3000;
const STATUSES = ["QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"];
const FINAL = new Set(["SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED", "REMOVED"]);

// "3 of 5 final" with a bar, and the non-zero counts by status.
function progress(job) {
  const counts = job.executionCounts || {};
  const totalCount = STATUSES.reduce((sum, s) => sum + (counts[s] || 0), 0);
  const done = STATUSES.filter((s) => FINAL.has(s)).reduce((sum, s) => sum + (counts[s] || 0), 0);
  return h("div", { class: "progress", dataset: { done, total: totalCount } },
    h("progress", { max: totalCount || 1, value: done, "aria-label": `${done} of ${totalCount} executions finished` }),
    h("span", { class: "counts" }, `${done}/${totalCount} finished`,
      STATUSES.filter((s) => counts[s]).map((s) => h("span", { class: "count", dataset: { status: s } }, " ", statusBadge(s), counts[s]))));
}

// A poll redraws only what changed, so focus and the reader's place survive a refresh.
function changes() {
  let last = null;
  return (value) => {
    const text = JSON.stringify(value);
    if (text === last) return false;
    last = text;
    return true;
  };
}

function every(ms, work, onLeave) {
  const timer = setInterval(work, ms);
  onLeave(() => clearInterval(timer));
}

export async function render(main, { params, query, navigate, onLeave, alive }) {
  if (params[0]) return jobPage(main, decodeURIComponent(params[0]), query, navigate, onLeave, alive);
  document.title = "Jobs · Tether";
  const page = Math.max(1, Number(query.get("page")) || 1);
  const problem = h("div", { "aria-live": "polite" });
  const jobId = h("input", { name: "job-id", autocomplete: "off", pattern: "[A-Za-z0-9_\\-]{1,64}", placeholder: "generated when empty" });
  const description = h("input", { name: "job-description", autocomplete: "off" });
  const documentText = h("textarea", { name: "job-document", rows: 4, spellcheck: false, required: true, placeholder: "{\"operation\": \"upgrade\", \"version\": \"2.1\"}" });
  const things = h("input", { name: "job-things", autocomplete: "off", value: query.get("thing") || "" });
  const groups = h("input", { name: "job-groups", autocomplete: "off", value: query.get("group") || "" });
  const kind = h("select", { name: "job-type" }, [["SNAPSHOT", "Snapshot: the targets' things now"], ["CONTINUOUS", "Continuous: also things that join a target group later"]]
    .map(([v, l]) => h("option", { value: v }, l)));
  const inProgress = h("input", { name: "job-timeout", type: "number", min: 1, max: 10080, inputmode: "numeric" });
  const step = h("input", { name: "job-step-timeout", type: "number", min: 1, max: 10080, inputmode: "numeric" });
  const form = h("form", { class: "card op-form", "aria-labelledby": "h-new-job" },
    h("h2", { id: "h-new-job" }, "New job"),
    h("div", { class: "filters" }, field("Job id", jobId), field("Description", description), field("Type", kind)),
    field("Job document (JSON object)", documentText, "What each thing receives as jobDocument"),
    h("div", { class: "filters" },
      field("Target things", things, "Thing names, separated by commas or spaces"),
      field("Target groups", groups, "Group names, separated by commas"),
      field("In-progress timeout (minutes)", inProgress, "Optional"), field("Step timeout (minutes)", step, "Optional")),
    problem, h("button", { type: "submit" }, "Create job"));
  const list = h("div", { id: "jobs" }, h("p", { class: "muted" }, "Loading…"));
  const changed = changes();
  replace(main, fleetsNav("jobs"), h("h1", {}, "Jobs"), form, h("h2", {}, "Jobs, newest first"), list);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(problem);
    if (!documentText.value.trim()) return replace(problem, errorBox("The job document is empty: give a JSON object."));
    const doc = jsonObject(documentText.value, "the job document", problem);
    if (doc === null) return;
    const body = { document: doc, type: kind.value, targets: { thingNames: splitNames(things.value), thingGroupNames: splitNames(groups.value, { spaces: false }) } };
    if (jobId.value.trim()) body.jobId = jobId.value.trim();
    if (description.value.trim()) body.description = description.value.trim();
    if (inProgress.value) body.timeoutConfig = { inProgressTimeoutInMinutes: Number(inProgress.value) };
    if (step.value) body.stepTimeoutInMinutes = Number(step.value);
    try {
      const job = await api("/api/v1/jobs", { method: "POST", body });
      toast(`Job ${job.jobId} created.`);
      navigate(`/ui/jobs/${encodeURIComponent(job.jobId)}`);
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  const load = async () => {
    try {
      const body = await api("/api/v1/jobs", { query: { page, limit: LIMIT } });
      if (!alive() || !changed(body)) return;
      if (!body.data.length) {
        replace(list, empty(page > 1 ? "No jobs on this page." : "No jobs yet. Create one above: name target things or thing groups and the document they receive."));
        return;
      }
      replace(list, table("job-table", ["Job", "Description", "Type", "Status", "Progress", "Created"], body.data.map((j) => h("tr", { dataset: { id: j.jobId, status: j.status } },
        h("td", { class: "mono" }, h("a", { href: `/ui/jobs/${encodeURIComponent(j.jobId)}` }, j.jobId)), h("td", {}, j.description || "—"),
        h("td", {}, j.type), h("td", {}, statusBadge(j.status)), h("td", {}, progress(j)), h("td", {}, timeEl(j.createdAt))))),
      pager(page, body.meta, LIMIT, (n) => navigate(`/ui/jobs?page=${n}`), "jobs"));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  await load();
  every(POLL_MS, load, onLeave);
}

async function jobPage(main, id, query, navigate, onLeave, alive) {
  const base = `/api/v1/jobs/${encodeURIComponent(id)}`;
  let job;
  try {
    job = await api(base);
  } catch (error) {
    if (!alive()) return;
    replace(main, fleetsNav("jobs"), h("h1", {}, "Job"), errorBox(error), h("p", {}, h("a", { href: "/ui/jobs" }, "Back to the jobs")));
    return;
  }
  if (!alive()) return;
  document.title = `Job ${job.jobId} · Tether`;
  const page = Math.max(1, Number(query.get("page")) || 1);
  const wanted = STATUSES.includes(query.get("status")) ? query.get("status") : "";
  const problem = h("div", { "aria-live": "polite" });
  const facts = h("dl", { class: "facts", id: "job-facts" });
  const executions = h("div", { id: "executions" }, h("p", { class: "muted" }, "Loading…"));
  const status = h("select", { name: "execution-status" }, [["", "Any status"], ...STATUSES.map((s) => [s, s])]
    .map(([v, l]) => h("option", { value: v, selected: v === wanted }, l)));
  const filter = h("form", { class: "filters", role: "search", "aria-label": "Filter executions" }, field("Status", status),
    h("div", { class: "field actions" }, h("button", { type: "submit" }, "Filter")));
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    navigate(`/ui/jobs/${encodeURIComponent(id)}${status.value ? `?status=${status.value}` : ""}`);
  });
  const force = h("input", { type: "checkbox", name: "cancel-force" });
  const comment = h("input", { name: "cancel-comment", autocomplete: "off", maxlength: 2028 });
  const cancelForm = h("form", { class: "filters card", "aria-label": "Cancel the job" }, field("Comment", comment),
    h("label", { class: "check" }, force, "Also cancel executions in progress (force)"),
    h("div", { class: "field actions" }, h("button", { type: "submit", class: "danger" }, "Cancel job")));
  cancelForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(problem);
    const body = { force: force.checked };
    if (comment.value.trim()) body.comment = comment.value.trim();
    try {
      show(await api(`${base}/cancel`, { method: "POST", body }));
      toast(`Job ${id} canceled.`);
      await loadExecutions();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  replace(main, fleetsNav("jobs"),
    h("p", { class: "crumbs" }, h("a", { href: "/ui/jobs" }, "Jobs"), " / "),
    h("div", { class: "title-row" }, h("h1", { id: "job-name" }, job.jobId), h("span", { id: "job-status" })),
    facts, h("div", { id: "job-cancel" }), problem,
    h("section", { "aria-labelledby": "h-executions" }, h("h2", { id: "h-executions" }, "Executions"), filter, executions));

  const jobChanged = changes();
  const executionsChanged = changes();
  const show = (current) => {
    const statusBefore = job.status;
    job = current;
    if (!jobChanged(job)) return;
    replace(main.querySelector("#job-status"), statusBadge(job.status));
    const targets = job.targets || {};
    replace(facts,
      h("dt", {}, "Description"), h("dd", {}, job.description || "—"),
      h("dt", {}, "Type"), h("dd", {}, job.type),
      h("dt", {}, "Progress"), h("dd", { id: "job-progress" }, progress(job)),
      h("dt", {}, "Target things"), h("dd", { class: "mono" }, (targets.thingNames || []).join(", ") || "—"),
      h("dt", {}, "Target groups"), h("dd", {}, (targets.thingGroupNames || []).join(", ") || "—"),
      h("dt", {}, "Timeouts"), h("dd", {}, `in progress: ${job.timeoutConfig.inProgressTimeoutInMinutes ?? "none"}, step: ${job.stepTimeoutInMinutes ?? "none"} (minutes)`),
      h("dt", {}, "Created"), h("dd", {}, timeEl(job.createdAt)),
      h("dt", {}, "Updated"), h("dd", {}, timeEl(job.updatedAt)),
      job.comment ? [h("dt", {}, "Cancel comment"), h("dd", {}, job.comment)] : null,
      h("dt", {}, "Document"), h("dd", {}, h("pre", { id: "job-document" }, JSON.stringify(job.document, null, 2))));
    const holder = main.querySelector("#job-cancel");
    if (statusBefore !== job.status || !holder.firstChild) replace(holder, job.status === "IN_PROGRESS" ? cancelForm : null);
  };
  const cancelExecution = async (e, withForce) => {
    replace(problem);
    try {
      await api(`${base}/executions/${encodeURIComponent(e.thingName)}/cancel`, { method: "POST", body: { force: withForce } });
      toast(`The execution of ${e.thingName} is canceled.`);
      await refresh();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };
  const details = (e) => Object.entries(e.statusDetails || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
  const loadExecutions = async () => {
    try {
      const body = await api(`${base}/executions`, { query: { page, limit: LIMIT, status: wanted } });
      if (!alive() || !executionsChanged(body)) return;
      if (!body.data.length) {
        replace(executions, empty(wanted ? `No execution is ${wanted}. Choose another status.` : "No executions: the targets hold no thing yet (a continuous job reaches things that join its groups)."));
        return;
      }
      replace(executions, table("execution-table", ["Thing", "Status", "Details", "Version", "Queued", "Started", "Updated", "Times out", "Actions"],
        body.data.map((e) => h("tr", { dataset: { thing: e.thingName, status: e.status } },
          h("td", { class: "mono" }, e.thingName), h("td", { class: "exec-status" }, statusBadge(e.status)), h("td", {}, details(e) || "—"),
          h("td", {}, e.versionNumber), h("td", {}, timeEl(e.queuedAt)), h("td", {}, timeEl(e.startedAt)), h("td", {}, timeEl(e.lastUpdatedAt)),
          h("td", {}, timeEl(e.timesOutAt)),
          h("td", { class: "actions" },
            e.status === "QUEUED" ? h("button", { type: "button", class: "secondary", "aria-label": `Cancel execution of ${e.thingName}`, onclick: () => cancelExecution(e, false) }, "Cancel") : null,
            e.status === "IN_PROGRESS" ? h("button", { type: "button", class: "secondary danger", "aria-label": `Force cancel execution of ${e.thingName}`, onclick: () => cancelExecution(e, true) }, "Force cancel") : null)))),
      pager(page, body.meta, LIMIT, (n) => navigate(`/ui/jobs/${encodeURIComponent(id)}?page=${n}${wanted ? `&status=${wanted}` : ""}`), "executions"));
    } catch (error) {
      replace(executions, errorBox(error));
    }
  };
  const refresh = async () => {
    try {
      const current = await api(base);
      if (alive()) show(current);
    } catch (error) {
      replace(problem, errorBox(error));
    }
    await loadExecutions();
  };
  show(job);
  await loadExecutions();
  every(POLL_MS, refresh, onLeave);
}
