// The connection indicator and banner: what the page shows for each socket state. No logic.

const $ = (id) => document.getElementById(id);

const CONNECTION_WORDS = {
  idle: "",
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  ended: "Session ended",
};

/** Show `state` ("idle", "connecting", "open", "reconnecting", "ended") in the header and banner. */
export function showConnectionState(state, detail = {}) {
  const indicator = $("connection");
  indicator.dataset.state = state;
  $("connection-text").textContent = CONNECTION_WORDS[state] ?? "";
  const banner = $("banner");
  banner.dataset.kind = state;
  if (state === "reconnecting") {
    const seconds = Math.max(1, Math.round(detail.delay / 1000));
    $("banner-text").textContent = `Connection lost. Reconnecting in ${seconds}s… Your reply will continue where it left off.`;
    banner.hidden = false;
    $("banner-login").hidden = true;
  } else if (state === "ended") {
    $("banner-text").textContent = "Session ended. Log in again to continue.";
    $("banner-login").hidden = false;
    banner.hidden = false;
  } else if (state === "open") {
    banner.hidden = true;
  }
}

/** Live sync with other tabs and devices: "degraded" while the server cannot reach Redis (replies
 * to this tab still arrive), "ok" once it is back. Shown only while the socket itself is open. */
export function showLiveSync(liveSync, detail) {
  const indicator = $("connection");
  if (indicator.dataset.state !== "open" && indicator.dataset.state !== "degraded") return;
  const degraded = liveSync === "degraded";
  indicator.dataset.state = degraded ? "degraded" : "open";
  $("connection-text").textContent = degraded ? "Live sync degraded" : CONNECTION_WORDS.open;
  const banner = $("banner");
  banner.dataset.kind = indicator.dataset.state;
  $("banner-text").textContent = detail;
  $("banner-login").hidden = true;
  banner.hidden = !degraded;
}
