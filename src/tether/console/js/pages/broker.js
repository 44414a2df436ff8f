// Broker: connected MQTT clients (kick), built-in authentication users, ACL rules (add, delete) and API keys
// (/api/v5).

import { api } from "../api.js";
import { badge, empty, errorBox, field, h, replace, table, timeEl, toast } from "../dom.js";

const USERS = "/api/v5/authentication/password_based:built_in_database/users";
const RULES = "/api/v5/authorization/sources/built_in_database/rules";
const KEYS = "/api/v5/api_key";
const POLL_MS = 5000;

function section(id, title, ...content) {
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...content);
}

async function guarded(box, work) {
  try {
    await work();
  } catch (error) {
    replace(box, errorBox(error));
  }
}

export async function render(main, { onLeave }) {
  document.title = "Broker · Tether";
  const problem = h("div", { "aria-live": "polite" });
  const clients = h("div", { id: "clients" });
  const users = h("div", { id: "authn-users" });
  const rules = h("div", { id: "acl-rules" });
  const keys = h("div", { id: "api-keys" });

  // Connected clients; one may be opened to see its subscriptions and subscribe it (proxy subscribe).
  let opened = null;
  const clientPath = (id) => `/api/v5/clients/${encodeURIComponent(id)}`;
  const subscriptionsOf = (clientid) => {
    const box = h("div", { class: "subs", id: "client-subscriptions" });
    const topic = h("input", { name: "proxy-topic", required: true, autocomplete: "off" });
    const qos = h("select", { name: "proxy-qos" }, [0, 1, 2].map((q) => h("option", { value: q }, `QoS ${q}`)));
    const form = h("form", { class: "filters" }, field("Topic filter", topic), field("QoS", qos),
      h("div", { class: "field actions" }, h("button", { type: "submit" }, "Subscribe client")));
    const list = h("div");
    const load = () => guarded(list, async () => {
      const subs = await api(`${clientPath(clientid)}/subscriptions`);
      if (!subs.length) return replace(list, empty("No subscriptions. Subscribe the client to a topic filter above."));
      replace(list, h("ul", { class: "plain" }, subs.map((sub) => h("li", {}, h("code", {}, sub.topic), ` QoS ${sub.qos} `,
        h("button", { type: "button", class: "secondary", "aria-label": `Unsubscribe ${clientid} from ${sub.topic}`, onclick: () => guarded(problem, async () => {
          await api(`${clientPath(clientid)}/unsubscribe`, { method: "POST", body: { topic: sub.topic } });
          load();
        }) }, "Unsubscribe")))));
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      guarded(problem, async () => {
        await api(`${clientPath(clientid)}/subscribe`, { method: "POST", body: { topic: topic.value.trim(), qos: Number(qos.value) } });
        toast(`${clientid} subscribed to ${topic.value.trim()}.`);
        replace(problem);
        form.reset();
        load();
      });
    });
    load();
    return replace(box, h("h3", {}, `Subscriptions of ${clientid}`), form, list);
  };
  const loadClients = () => guarded(clients, async () => {
    const body = await api("/api/v5/clients", { query: { limit: 100 } });
    if (!body.data.length) return replace(clients, empty("No MQTT client is connected. Devices appear here while connected."));
    const rows = body.data.flatMap((c) => {
      const open = opened === c.clientid;
      const row = h("tr", { dataset: { clientid: c.clientid } },
        h("td", { class: "mono" }, c.clientid), h("td", {}, c.username || "—"), h("td", { class: "mono" }, c.ip_address || "—"),
        h("td", {}, c.proto_ver ?? "—"), h("td", {}, c.connected ? timeEl(c.connected_at) : badge("offline session", "off")),
        h("td", { class: "actions" },
          h("button", { type: "button", class: "secondary", "aria-expanded": open ? "true" : "false", "aria-label": `Subscriptions of ${c.clientid}`, onclick: () => {
            opened = open ? null : c.clientid;
            loadClients();
          } }, "Subscriptions"),
          c.connected ? h("button", { type: "button", class: "secondary", "aria-label": `Kick ${c.clientid}`, onclick: () => guarded(problem, async () => {
            await api(clientPath(c.clientid), { method: "DELETE" });
            toast(`Kicked ${c.clientid}.`);
            loadClients();
          }) }, "Kick") : null));
      return open ? [row, h("tr", { class: "details" }, h("td", { colspan: 6 }, subscriptionsOf(c.clientid)))] : [row];
    });
    replace(clients, table(["Client id", "User", "Address", "MQTT", "Connected since", "Actions"], rows, "client-table"));
  });

  // Built-in authentication users
  const userId = h("input", { name: "authn-user", required: true, autocomplete: "off" });
  const userPassword = h("input", { name: "authn-password", type: "password", required: true, autocomplete: "new-password" });
  const superuser = h("input", { type: "checkbox", name: "superuser" });
  const userForm = h("form", { class: "filters" }, field("User id", userId), field("Password", userPassword),
    h("label", { class: "check" }, superuser, "Superuser"), h("div", { class: "field actions" }, h("button", { type: "submit" }, "Add user")));
  userForm.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(problem, async () => {
      await api(USERS, { method: "POST", body: { user_id: userId.value.trim(), password: userPassword.value, is_superuser: superuser.checked } });
      toast(`Added ${userId.value.trim()}.`);
      userForm.reset();
      replace(problem);
      loadUsers();
    });
  });
  const loadUsers = () => guarded(users, async () => {
    const body = await api(USERS, { query: { limit: 100 } });
    if (!body.data.length) return replace(users, empty("No built-in users. Add one above for MQTT clients that are not devices."));
    replace(users, table(["User id", "Superuser", "Actions"], body.data.map((u) => h("tr", {},
      h("td", { class: "mono" }, u.user_id), h("td", {}, u.is_superuser ? "yes" : "no"),
      h("td", { class: "actions" }, h("button", { type: "button", class: "secondary", "aria-label": `Delete user ${u.user_id}`, onclick: () => guarded(problem, async () => {
        await api(`${USERS}/${encodeURIComponent(u.user_id)}`, { method: "DELETE" });
        toast(`Deleted ${u.user_id}.`);
        loadUsers();
      }) }, "Delete"))))));
  });

  // ACL rules of the built-in database: per user, per client and for all. Adding or deleting one rule
  // rewrites its set (PUT users/{u}, clients/{c}, POST all), creating a set with POST when it has none.
  const ruleFor = h("select", { name: "rule-for" }, h("option", { value: "users" }, "a user name"), h("option", { value: "clients" }, "a client id"), h("option", { value: "all" }, "everyone"));
  const ruleWho = h("input", { name: "rule-who", autocomplete: "off" });
  const ruleTopic = h("input", { name: "rule-topic", required: true, autocomplete: "off", placeholder: "sensors/${clientid}/#" });
  const ruleAction = h("select", { name: "rule-action" }, ["publish", "subscribe", "all"].map((a) => h("option", { value: a }, a)));
  const rulePermission = h("select", { name: "rule-permission" }, ["allow", "deny"].map((p) => h("option", { value: p }, p)));
  const whoField = field("User name or client id", ruleWho);
  ruleFor.addEventListener("change", () => {
    whoField.hidden = ruleFor.value === "all";
    ruleWho.required = ruleFor.value !== "all";
  });
  ruleWho.required = true;
  const ruleForm = h("form", { class: "filters", "aria-label": "New ACL rule" }, field("Rule for", ruleFor), whoField, field("Topic filter", ruleTopic),
    field("Action", ruleAction), field("Permission", rulePermission), h("div", { class: "field actions" }, h("button", { type: "submit" }, "Add rule")));
  const keyOf = { users: "username", clients: "clientid" };
  const setPath = (kind, who) => `${RULES}/${kind}/${encodeURIComponent(who)}`;
  const readSet = async (kind, who) => {
    if (kind === "all") return (await api(`${RULES}/all`)).rules || [];
    try {
      return (await api(setPath(kind, who))).rules;
    } catch (error) {
      if (error.status === 404) return null;
      throw error;
    }
  };
  const writeSet = (kind, who, rules, existed) => {
    if (kind === "all") return api(`${RULES}/all`, { method: "POST", body: { rules } });
    if (!rules.length) return api(setPath(kind, who), { method: "DELETE" });
    const set = { [keyOf[kind]]: who, rules };
    return existed ? api(setPath(kind, who), { method: "PUT", body: set }) : api(`${RULES}/${kind}`, { method: "POST", body: [set] });
  };
  const plain = (r) => ({ topic: r.topic, action: r.action, permission: r.permission, ...(r.qos ? { qos: r.qos } : {}), ...(r.retain !== undefined ? { retain: r.retain } : {}) });
  ruleForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const kind = ruleFor.value;
    const who = ruleWho.value.trim();
    guarded(problem, async () => {
      const current = await readSet(kind, who);
      const rule = { topic: ruleTopic.value.trim(), action: ruleAction.value, permission: rulePermission.value };
      await writeSet(kind, who, [...(current || []).map(plain), rule], current !== null);
      toast(`Rule added for ${kind === "all" ? "everyone" : who}.`);
      ruleTopic.value = "";
      replace(problem);
      loadRules();
    });
  });
  const loadRules = () => guarded(rules, async () => {
    const [byUser, byClient, all] = await Promise.all([api(`${RULES}/users`, { query: { limit: 100 } }), api(`${RULES}/clients`, { query: { limit: 100 } }), api(`${RULES}/all`)]);
    const rows = [
      ...byUser.data.flatMap((set) => set.rules.map((r, i) => ["users", set.username, r, i, set.rules])),
      ...byClient.data.flatMap((set) => set.rules.map((r, i) => ["clients", set.clientid, r, i, set.rules])),
      ...(all.rules || []).map((r, i) => ["all", "*", r, i, all.rules]),
    ];
    if (!rows.length) return replace(rules, empty("No ACL rules: devices use their own namespaces only. Add a rule above to let a user or client reach other topics."));
    const label = { users: "user", clients: "client", all: "everyone" };
    replace(rules, table(["For", "Who", "Topic", "Action", "Permission", "Actions"], rows.map(([kind, who, r, i, set]) => h("tr", {},
      h("td", {}, label[kind]), h("td", { class: "mono" }, who), h("td", { class: "mono" }, r.topic), h("td", {}, r.action), h("td", {}, badge(r.permission, r.permission === "allow" ? "ok" : "bad")),
      h("td", { class: "actions" }, h("button", { type: "button", class: "secondary danger", "aria-label": `Delete rule ${r.permission} ${r.action} ${r.topic} for ${who}`, onclick: () => guarded(problem, async () => {
        await writeSet(kind, who, set.filter((_, j) => j !== i).map(plain), true);
        toast(`Rule ${r.topic} of ${kind === "all" ? "everyone" : who} deleted.`);
        replace(problem);
        loadRules();
      }) }, "Delete")))), "acl-table"));
  });

  // API keys
  const keyName = h("input", { name: "key-name", required: true, autocomplete: "off" });
  const keyRole = h("select", { name: "key-role" }, h("option", { value: "administrator" }, "administrator"), h("option", { value: "viewer" }, "viewer (read only)"));
  const secret = h("div", { "aria-live": "polite" });
  const keyForm = h("form", { class: "filters" }, field("Name", keyName), field("Role", keyRole), h("div", { class: "field actions" }, h("button", { type: "submit" }, "Create key")));
  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    guarded(problem, async () => {
      const created = await api(KEYS, { method: "POST", body: { name: keyName.value.trim(), role: keyRole.value, enable: true } });
      replace(secret, h("p", { class: "notice" }, "Copy the secret now, it is not shown again: ", h("code", {}, `${created.api_key}:${created.api_secret}`)));
      keyForm.reset();
      loadKeys();
    });
  });
  const loadKeys = () => guarded(keys, async () => {
    const body = await api(KEYS);
    const list = Array.isArray(body) ? body : body.data || [];
    if (!list.length) return replace(keys, empty("No API keys. Create one above for scripts and integrations (HTTP Basic key:secret)."));
    replace(keys, table(["Name", "Key", "Role", "Enabled", "Expires", "Actions"], list.map((k) => h("tr", {},
      h("td", {}, k.name), h("td", { class: "mono" }, k.api_key), h("td", {}, k.role), h("td", {}, k.enable ? "yes" : "no"),
      h("td", {}, k.expired_at && k.expired_at !== "infinity" ? timeEl(k.expired_at) : "never"),
      h("td", { class: "actions" }, h("button", { type: "button", class: "secondary", "aria-label": `Delete key ${k.name}`, onclick: () => guarded(problem, async () => {
        await api(`${KEYS}/${encodeURIComponent(k.name)}`, { method: "DELETE" });
        toast(`Deleted key ${k.name}.`);
        loadKeys();
      }) }, "Delete"))))));
  });

  replace(main, h("h1", {}, "Broker"), problem,
    section("h-clients", "Connected clients", clients),
    section("h-users", "Authentication users", userForm, users),
    section("h-rules", "ACL rules", ruleForm, rules),
    section("h-keys", "API keys", keyForm, secret, keys));
  await Promise.all([loadClients(), loadUsers(), loadRules(), loadKeys()]);
  const timer = setInterval(() => opened === null && loadClients(), POLL_MS);
  onLeave(() => clearInterval(timer));
}
