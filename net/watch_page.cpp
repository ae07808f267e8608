#include "net/watch_page.hpp"

namespace jobwire {

namespace {

// Everything a job's publisher wrote reaches the page through textContent
// only, never as markup.
constexpr std::string_view page = R"page(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jobwire</title>
<style>
body { font: 15px system-ui, sans-serif; max-width: 46rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; }
form { display: flex; gap: .5rem; margin: .5rem 0; }
input { flex: 1; padding: .4rem; }
button { padding: .4rem .8rem; }
progress { width: 100%; height: 1.2rem; }
#state { font-weight: 600; }
#log { font: 13px ui-monospace, monospace; white-space: pre-wrap;
       border-top: 1px solid #ddd; margin-top: 1rem; padding-top: .5rem; }
.muted { color: #777; }
.bad { color: #b00; }
</style>
</head>
<body>
<h1>jobwire</h1>
<form id="watch">
  <input id="job" placeholder="job id, e.g. job_42" required
         pattern="[A-Za-z0-9._:\-]{1,128}" autocomplete="off">
  <button>Watch</button>
</form>
<div id="link" class="muted">connecting</div>
<section id="view" hidden>
  <h2 id="title"></h2>
  <div><span id="state"></span> <span id="stage" class="muted"></span>
    <span id="percent" class="muted"></span></div>
  <progress id="bar" max="100" value="0"></progress>
  <div id="message"></div>
  <div id="eta" class="muted"></div>
  <form id="cancel">
    <input id="reason" placeholder="why cancel (optional)" autocomplete="off">
    <button id="cancel-button">Cancel job</button>
  </form>
</section>
<div id="log"></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const token = params.get("token");
const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host
  + "/v1/ws" + (token ? "?token=" + encodeURIComponent(token) : "");
const finished = ["completed", "failed", "cancelled"];
let ws = null;
let job = null;
let lastSeq = 0;   // the last event shown: a new subscribe goes on from it
let attempt = 0;
let failures = 0;  // connections in a row that never opened
let terminal = false;
let ended = false;     // the job's terminal event was shown (not just its status)
let renewing = false;  // events wait for the subscribed of a fresh subscribe
let waitingForRoom = false; // a subscribe was refused for now and is asked again

function note(text, cls) {
  const line = document.createElement("div");
  line.textContent = new Date().toLocaleTimeString() + "  " + text;
  if (cls) line.className = cls;
  const box = $("log");
  box.prepend(line);
  while (box.childNodes.length > 500) box.lastChild.remove();
}

function send(cmd) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(cmd));
}

function subscribe() {
  if (job) send({ type: "subscribe", job_id: job, since_seq: lastSeq });
}

// At most one decimal, without ".0": 33.3, 40.
function tenths(x) {
  return String(Math.round(x * 10) / 10);
}

function percent(progress) {
  const shown = tenths(progress);
  // Rounded up to 100 it would say done before the job does.
  return (shown === "100" && progress < 100 ? "99.9" : shown) + " %";
}

// Publishers may send any ETA >= 0; past a year a number says nothing.
function eta(seconds) {
  if (typeof seconds !== "number" || terminal) return "";
  if (seconds < 1) return "less than a second left";
  if (seconds < 90) return "about " + Math.round(seconds) + " s left";
  if (seconds < 5400) return "about " + Math.round(seconds / 60) + " min left";
  if (seconds < 172800) return "about " + tenths(seconds / 3600) + " h left";
  if (seconds <= 31536000) return "about " + Math.round(seconds / 86400) + " days left";
  return "more than a year left";
}

function show(state, stage, progress, message, seconds) {
  $("view").hidden = false;
  terminal = finished.includes(state);
  if (state !== undefined) $("state").textContent = state;
  if (stage !== undefined) $("stage").textContent = stage;
  if (typeof progress === "number") {
    $("bar").value = progress;
    $("percent").textContent = percent(progress);
  }
  if (message !== undefined) $("message").textContent = message;
  $("eta").textContent = eta(seconds);
  $("cancel-button").disabled = terminal;
}

function onEvent(m) {
  // Shown before a reconnect, or of the subscription being replaced.
  if (renewing || m.seq <= lastSeq) return;
  lastSeq = m.seq;
  ended = ["job_complete", "job_failed", "job_cancelled"].includes(m.type);
  const at = "#" + m.seq + " ";
  switch (m.type) {
    case "progress_update":
      show("running", m.stage, m.progress, m.message, m.estimated_seconds_remaining);
      note(at + m.stage + " " + percent(m.progress) + (m.message ? "  " + m.message : "")
        + (m.coalesced ? "  (" + m.coalesced + " older updates skipped)" : ""));
      break;
    case "stage_complete":
      show("running", m.stage, 100, undefined, null);
      note(at + "stage " + m.stage + " complete");
      break;
    case "job_complete":
      show("completed", undefined, 100, "", null);
      note(at + "job complete" + (m.results ? "  " + JSON.stringify(m.results) : ""));
      break;
    case "job_failed":
      show("failed", undefined, undefined, m.error.code + ": " + m.error.message, null);
      note(at + "job failed: " + m.error.code + ": " + m.error.message, "bad");
      break;
    case "job_cancelled":
      show("cancelled", undefined, undefined, m.reason || "", null);
      note(at + "job cancelled" + (m.reason ? ": " + m.reason : ""));
      break;
  }
}

// A finished job is forgotten after --job-retention, and a publish to its id
// then starts a new job at seq 1, whose events are not the ones shown. It
// shows as fewer events than shown or, once the end was shown (the old job
// took no event after it), as more events or a job not ended.
function isNewJob(s) {
  return s.last_seq < lastSeq
    || (ended && (s.last_seq > lastSeq || !finished.includes(s.status)));
}

// A subscribe again on the same connection goes on from what it was sent,
// so unsubscribe first; what comes before the new subscribed is dropped.
function startOver(newLastSeq) {
  lastSeq = 0;
  ended = false;
  terminal = false;
  renewing = true;
  $("log").textContent = "";
  note(newLastSeq > 0
    ? "the job was started again: showing the new job under this id from its first event"
    : "the server no longer has the job shown (forgotten after it ended); waiting for a new one",
    "muted");
  send({ type: "unsubscribe", job_id: job });
  subscribe();
}

function onMessage(e) {
  let m;
  try { m = JSON.parse(e.data); } catch { return; }
  if (m.job_id !== undefined && m.job_id !== job && m.type !== "error") return;
  switch (m.type) {
    case "connected":
      attempt = 0;
      $("link").textContent = "connected";
      subscribe();
      break;
    case "subscribed": {
      waitingForRoom = false;
      const s = m.status;
      if (isNewJob(s)) {
        startOver(s.last_seq);
        break;
      }
      renewing = false;
      if (s.last_seq === 0) note("no events yet for " + job + "; waiting", "muted");
      show(s.status, s.stage, s.progress, s.message, s.estimated_seconds_remaining);
      if (s.cancel_requested && !terminal) note("a cancel was requested");
      break;
    }
    case "cancel_requested":
      note("cancel requested");
      break;
    case "error":
      // A subscribe refused for now (the server has its most jobs in
      // memory) is asked again each second, noted once.
      if (m.code === "rate_limited" && m.job_id === job) {
        if (!waitingForRoom) note("error " + m.code + ": " + m.message + "; trying again", "bad");
        waitingForRoom = true;
        const refusedFor = job;
        setTimeout(() => { if (job === refusedFor) subscribe(); }, 1000);
        break;
      }
      note("error " + m.code + ": " + m.message, "bad");
      break;
    case "resume_hint":
      note("the server is restarting; reconnecting", "muted");
      break;
    default:
      if (typeof m.seq === "number") onEvent(m);
  }
}

function connect() {
  let opened = false;
  ws = new WebSocket(url);
  ws.onopen = () => { opened = true; failures = 0; };
  ws.onmessage = onMessage;
  ws.onclose = (e) => {
    ws = null;
    // 1008: the token expired, or too many errors. The same token would
    // only get 401 again.
    if (e.code === 1008) {
      const text = "closed by the server: " + (e.reason || "policy violation")
        + " \u2014 reload" + (/token/.test(e.reason) ? " with a new token" : " to connect again");
      $("link").textContent = text;
      note(text, "bad");
      return;
    }
    const wait = Math.min(10000, 500 * 2 ** attempt++) * (0.5 + Math.random() / 2);
    const again = "; reconnecting in " + (wait / 1000).toFixed(1) + " s";
    if (opened) {
      $("link").textContent = "disconnected (" + e.code + (e.reason ? " " + e.reason : "")
        + ")" + again;
    } else {
      // A refused upgrade (401, 403, 503) shows as a bare 1006: no code
      // tells it from a server that is down.
      ++failures;
      $("link").textContent = "cannot connect" + (failures < 3 ? ""
        : " (" + failures + " tries in a row: is the server up"
          + (token ? " and the token valid" : ", and does it need a token") + "?)")
        + again;
    }
    setTimeout(connect, wait);
  };
}

function watch(next) {
  if (!next || next === job) return;
  if (job) send({ type: "unsubscribe", job_id: job });
  job = next;
  lastSeq = 0;
  terminal = false;
  ended = false;
  renewing = false;
  $("log").textContent = "";
  $("title").textContent = job;
  const query = new URLSearchParams({ job });
  if (token) query.set("token", token);
  history.replaceState(null, "", "?" + query);
  subscribe();
}

$("watch").addEventListener("submit", (e) => {
  e.preventDefault();
  watch($("job").value.trim());
});
$("cancel").addEventListener("submit", (e) => {
  e.preventDefault();
  send({ type: "cancel_job", job_id: job, reason: $("reason").value });
});
if (params.get("job")) {
  $("job").value = params.get("job");
  watch(params.get("job"));
}
connect();
</script>
</body>
</html>
)page";

} // namespace

std::string_view watch_page() {
  return page;
}

} // namespace jobwire
