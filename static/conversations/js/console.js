// The live console: every process's reports over the staff-only socket, rendered as tables.
// Text reaches the DOM only through textContent; stops are plain admin form POSTs (logged server-side).

const root = document.getElementById("live-console");
const status = document.getElementById("console-status");
const repliesBody = document.querySelector("#console-replies tbody");
const noReplies = document.getElementById("console-no-replies");
const processesBody = document.querySelector("#console-processes tbody");
const interval = Number(root.dataset.interval) * 1000;
const SILENT_AFTER = 3 * interval + 2000; // a process missing three reports is shown as silent
const SESSION_ENDED = 1008;
const reports = new Map(); // process name -> {process, at}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  return seconds < 60 ? `${seconds.toFixed(0)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

function stopForm(reply) {
  const form = document.createElement("form");
  form.method = "post";
  form.action = root.dataset.stopUrl;
  for (const [name, value] of [
    ["csrfmiddlewaretoken", root.querySelector("[name=csrfmiddlewaretoken]").value],
    ["conversation_id", reply.conversation_id],
    ["reply_id", reply.id],
  ]) {
    const input = document.createElement("input");
    Object.assign(input, { type: "hidden", name, value });
    form.append(input);
  }
  const button = document.createElement("button");
  Object.assign(button, { type: "submit", className: "button", textContent: "Stop" });
  button.dataset.reply = reply.id;
  form.append(button);
  return form;
}

function renderReplies(now) {
  const rows = [];
  for (const { process, at } of reports.values()) {
    if (now - at > SILENT_AFTER) continue;
    for (const reply of process.replies) rows.push({ reply, process });
  }
  rows.sort((a, b) => (b.reply.age ?? 0) - (a.reply.age ?? 0));
  repliesBody.replaceChildren();
  for (const { reply, process } of rows) {
    const row = repliesBody.insertRow();
    row.dataset.reply = reply.id;
    cell(row, reply.user);
    const link = document.createElement("a");
    link.href = root.dataset.readUrl.replace("00000000-0000-0000-0000-000000000000", reply.conversation_id);
    link.textContent = reply.title || reply.conversation_id;
    cell(row, "").append(link);
    cell(row, reply.model);
    cell(row, String(reply.tokens), "number tokens");
    cell(row, reply.tokens_per_second.toFixed(1), "number");
    cell(row, duration(reply.age), "number");
    cell(row, `${process.host}:${process.pid}`);
    cell(row, "").append(stopForm(reply));
  }
  noReplies.hidden = rows.length > 0;
}

function renderProcesses(now) {
  for (const { process, at } of reports.values()) {
    let row = processesBody.querySelector(`tr[data-process="${CSS.escape(process.name)}"]`);
    if (!row) {
      row = processesBody.insertRow(0);
      row.dataset.process = process.name;
      cell(row, `${process.host}:${process.pid}`);
      for (const name of ["heartbeat", "sockets number", "running number", "live"]) cell(row, "", name);
    }
    const silent = now - at > SILENT_AFTER;
    row.classList.toggle("silent", silent);
    row.querySelector(".sockets").textContent = String(process.open_sockets);
    row.querySelector(".running").textContent = String(process.running_replies);
    row.querySelector(".live").textContent = silent ? "silent" : "reporting";
    if (!silent) row.querySelector(".heartbeat").textContent = `${Math.round((now - at) / 1000)} s ago (live report)`;
  }
}

function render() {
  const now = Date.now();
  renderReplies(now);
  renderProcesses(now);
}

function setStatus(text, state) {
  status.textContent = text;
  status.className = `console-status ${state}`;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${root.dataset.socketPath}`);
  socket.addEventListener("open", () => setStatus("Live", "live"));
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type !== "console.report") return;
    reports.set(frame.process.name, { process: frame.process, at: Date.now() });
    render();
  });
  socket.addEventListener("close", (event) => {
    if (event.code === SESSION_ENDED) {
      setStatus("Your session ended: log in again.", "down");
      return;
    }
    setStatus("Disconnected; reconnecting…", "down");
    setTimeout(connect, 2000);
  });
}

setInterval(render, 1000);
render();
connect();
