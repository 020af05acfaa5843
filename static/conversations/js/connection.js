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
