// Registration: pending new-device requests (Cumulocity device bootstrap), accept or reject; register a
// device id ahead of its first connection.

import { api, may } from "../api.js";
import { badge, empty, errorBox, field, h, replace, timeEl, toast } from "../dom.js";

const POLL_MS = 5000; // requests are not announced on the real-time API
const KIND = { WAITING_FOR_CONNECTION: "info", PENDING_ACCEPTANCE: "warn", ACCEPTED: "ok" };

export async function render(main, { onLeave }) {
  document.title = "Registration · Tether";
  const newId = h("input", { name: "request-id", required: true, placeholder: "serial number, e.g. 0001-ABCD", autocomplete: "off" });
  const problem = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "card", "aria-labelledby": "h-register" },
    h("h2", { id: "h-register" }, "Register a device"),
    h("p", { class: "muted" }, "Enter the device's id (its serial). When the device asks for its credentials as management/devicebootstrap, accept it here."),
    h("div", { class: "filters" }, field("Device id", newId), h("div", { class: "field actions" }, h("button", { type: "submit", disabled: !may("DEVICE_CONTROL", true) }, "Register"))));
  const list = h("div", { id: "requests", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  // Xyte models: devices register with a model's hardware key (POST /v1/devices).
  const modelName = h("input", { name: "model-name", required: true, autocomplete: "off" });
  const modelProtocol = h("select", { name: "model-protocol" }, h("option", { value: "mqtt" }, "MQTT"), h("option", { value: "https" }, "HTTPS"));
  const modelForm = h("form", { class: "filters" }, field("Model name", modelName), field("Protocol", modelProtocol),
    h("div", { class: "field actions" }, h("button", { type: "submit", disabled: !may("admin") }, "Create model")));
  const models = h("div", { id: "models" });
  replace(main, h("h1", {}, "Registration"), problem, form, h("h2", {}, "Device requests"), list,
    h("section", { "aria-labelledby": "h-models" }, h("h2", { id: "h-models" }, "Xyte models"),
      h("p", { class: "muted" }, "A device registers itself with its model's hardware key (POST /v1/devices) and gets its id and access key."),
      modelForm, models));
  const loadModels = async () => {
    try {
      const list = await api("/v1/models");
      if (!list.length) return replace(models, empty("No models yet. Create one above; give its hardware key to the devices of that model."));
      replace(models, h("div", { class: "table-wrap" }, h("table", { class: "list", id: "model-table" },
        h("thead", {}, h("tr", {}, ["Name", "Protocol", "Hardware key", "Created"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, list.map((m) => h("tr", {}, h("td", {}, m.name), h("td", {}, m.communication_protocol),
          h("td", { class: "mono" }, m.hardware_key), h("td", {}, timeEl(m.created_at))))))));
    } catch (error) {
      replace(models, errorBox(error));
    }
  };
  modelForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/v1/models", { method: "POST", body: { name: modelName.value.trim(), communication_protocol: modelProtocol.value } });
      toast(`Model ${modelName.value.trim()} created.`);
      modelForm.reset();
      replace(problem);
      loadModels();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  loadModels();

  const act = (request, accept) => async () => {
    try {
      if (accept) await api(`/devicecontrol/newDeviceRequests/${encodeURIComponent(request.id)}`, { method: "PUT", body: { status: "ACCEPTED" } });
      else await api(`/devicecontrol/newDeviceRequests/${encodeURIComponent(request.id)}`, { method: "DELETE" });
      toast(accept ? `Accepted ${request.id}: the device gets its credentials at its next request.` : `Rejected ${request.id}.`);
      replace(problem);
      load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };
  const load = async () => {
    try {
      const body = await api("/devicecontrol/newDeviceRequests", { query: { pageSize: 100 } });
      const requests = body.newDeviceRequests;
      if (!requests.length) {
        replace(list, empty("No device requests. Register a device id above, then let the device connect as management/devicebootstrap."));
        return;
      }
      replace(list, h("div", { class: "table-wrap" }, h("table", { class: "list", id: "request-table" },
        h("thead", {}, h("tr", {}, ["Device id", "Status", "Created", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, requests.map((r) => h("tr", { dataset: { id: r.id, status: r.status } },
          h("td", { class: "mono" }, r.id), h("td", {}, badge(r.status, KIND[r.status])), h("td", {}, timeEl(r.creationTime)),
          h("td", { class: "actions" },
            r.status === "PENDING_ACCEPTANCE" ? h("button", { type: "button", disabled: !may("DEVICE_CONTROL", true), onclick: act(r, true), "aria-label": `Accept ${r.id}` }, "Accept") : null,
            r.status !== "ACCEPTED" ? h("button", { type: "button", class: "secondary", disabled: !may("DEVICE_CONTROL", true), onclick: act(r, false), "aria-label": `Reject ${r.id}` }, "Reject") : null)))))));
    } catch (error) {
      replace(list, errorBox(error));
    }
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/devicecontrol/newDeviceRequests", { method: "POST", body: { id: newId.value.trim() } });
      toast(`Registered ${newId.value.trim()}.`);
      newId.value = "";
      replace(problem);
      load();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  });
  await load();
  const timer = setInterval(load, POLL_MS);
  onLeave(() => clearInterval(timer));
}
