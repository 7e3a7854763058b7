// Small helpers to build the page's elements and speak to screen readers.

// h("button", { type: "button", onclick }, "Text") builds an element.
// Attributes named on* become listeners; false, null and undefined are skipped.
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export const byId = (id) => document.getElementById(id);

// Says a short message through the polite live region.
export function announce(message) {
  const region = byId("announcer");
  region.textContent = "";
  // A new text node in a later frame is announced even if it repeats.
  requestAnimationFrame(() => {
    region.textContent = message;
  });
}

const ALERT_SECONDS = 10;
let alertTimer = null;
let alertShownAt = 0;

function hideError() {
  clearTimeout(alertTimer);
  byId("alert").hidden = true;
}

// Shows an error (role="alert" is announced at once). It goes away at the
// user's next action (a click, a key, a drop), with its Close button, or
// after ALERT_SECONDS; clicks pass through it (style.css), so it never
// stands between the user and a button.
export function showError(message) {
  byId("alert-text").textContent = message;
  byId("alert").hidden = false;
  alertShownAt = performance.now();
  clearTimeout(alertTimer);
  alertTimer = setTimeout(hideError, ALERT_SECONDS * 1000);
}

function dismissOnAction(event) {
  const box = byId("alert");
  // Events from before the error (the click that caused it) do not count.
  if (box.hidden || event.timeStamp <= alertShownAt) return;
  // Its own Close button closes it on click.
  if (box.contains(event.target)) return;
  if (event.type === "keydown" && ["Shift", "Control", "Alt", "Meta"].includes(event.key)) return;
  hideError();
}

for (const type of ["pointerdown", "keydown", "drop"]) {
  document.addEventListener(type, dismissOnAction, { capture: true });
}
// Module scripts run once the document is parsed: the box is there.
byId("alert-close").addEventListener("click", hideError);

const UNITS = ["bytes", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "unknown";
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  return `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}
