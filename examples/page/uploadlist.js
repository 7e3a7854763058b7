// The list of uploads: a progress bar, a status and Retry / Cancel buttons
// per file. Retry shows only when retrying may help; the bar and the byte
// count show what the server acknowledged, not what was merely sent.

import { formatBytes, h } from "./dom.js";

const STATES = {
  queued: "Waiting",
  uploading: "Uploading",
  done: "Uploaded",
  failed: "Failed",
  cancelled: "Cancelled",
};

function statusText(upload) {
  const size = upload.file.size;
  let text = `${STATES[upload.state]}: ${formatBytes(upload.loaded)} of ${formatBytes(size)}`;
  if (size > 0) text += ` (${Math.floor((100 * upload.loaded) / size)} %)`;
  if (upload.multipart) text += `, ${upload.partsSent} of ${upload.partCount} parts sent`;
  if (upload.state === "failed") {
    text += `. ${upload.error.message}`;
    if (!upload.retryable) text += " Retrying would not help.";
  }
  return text;
}

// Updates (or creates) the list item of one upload.
export function renderUpload(list, upload, { retry, cancel }) {
  let item = list.querySelector(`[data-upload="${upload.id}"]`);
  if (!item) {
    const labelId = `${upload.id}-name`;
    item = h(
      "li",
      { class: "upload", dataset: { upload: upload.id }, tabindex: -1 },
      h("span", { id: labelId, class: "upload-name" }, upload.key),
      upload.multipart ? h("span", { class: "meta" }, ` multipart upload, ${upload.partCount} parts`) : null,
      h("progress", { max: upload.file.size || 1, value: 0, "aria-labelledby": labelId }),
      h("span", { class: "upload-status" }),
      h(
        "span",
        { class: "upload-buttons" },
        h("button", { type: "button", class: "retry", "aria-label": `Retry ${upload.key}`, onclick: () => retry(upload) }, "Retry"),
        h("button", { type: "button", class: "cancel", "aria-label": `Cancel ${upload.key}`, onclick: () => cancel(upload) }, "Cancel"),
      ),
    );
    list.append(item);
  }
  item.className = `upload upload-${upload.state}`;
  item.querySelector("progress").value = upload.loaded;
  item.querySelector(".upload-status").textContent = statusText(upload);
  const focused = document.activeElement;
  item.querySelector(".retry").hidden = !upload.retryable;
  item.querySelector(".cancel").hidden = upload.finished;
  if (focused !== item && item.contains(focused) && focused.hidden) {
    // The button just used went away: keep the keyboard user's place.
    const visible = item.querySelector("button:not([hidden])");
    (visible || item).focus();
  }
  return item;
}
