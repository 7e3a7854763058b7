// One record: its files summary and quota, its files, the uploads, and its
// life cycle (lock, new version, delete, restore).

import { actionsUrl, ApiError, getJSON, keyProblem, request } from "./api.js";
import { announce, byId, formatBytes, h, showError } from "./dom.js";
import { renderFiles } from "./files.js";
import { renderUpload } from "./uploadlist.js";
import { UploadQueue } from "./uploads.js";

// The files are listed a page at a time, as the REST listing serves them:
// a record of 10,000 files shows its first FILES_PAGE_SIZE, and more on
// demand. A reload asks again for as many as were shown (one request, at
// most the listing's largest page).
const FILES_PAGE_SIZE = 100;
const FILES_MAX_PAGE_SIZE = 1000;

export class RecordView {
  constructor({ onChanged, onOpen }) {
    this.pid = null;
    this.record = null; // GET /records/<pid>
    this.bucket = null; // GET <files link>: the bucket and the first files
    this.files = [];
    this.metadata = {}; // per-file metadata by key, from the listing's entries
    this.nextFiles = null;
    this.gone = null;
    this.editing = null;
    this.onChanged = onChanged;
    this.onOpen = onOpen;
    this.loadToken = 0;
    this.queue = new UploadQueue(
      (upload) => this.uploadChanged(upload),
      () => {
        this.reload();
        this.onChanged();
      },
    );
    this.bindControls();
  }

  bindControls() {
    byId("lock-files").addEventListener("click", () =>
      this.act("PUT", "lock", "The files are locked: the record is published."),
    );
    byId("unlock-files").addEventListener("click", () =>
      this.act("DELETE", "lock", "The files are unlocked."),
    );
    byId("new-version").addEventListener("click", () => this.newVersion());
    byId("delete-record").addEventListener("click", () => this.askToDelete(true));
    byId("keep-record").addEventListener("click", () => this.askToDelete(false));
    byId("confirm-delete").addEventListener("click", () => this.deleteRecord());
    byId("delete-confirm").addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.askToDelete(false);
    });
    byId("restore-record").addEventListener("click", () => this.restore());
    byId("more-files").addEventListener("click", () => this.loadMoreFiles());
    byId("clear-uploads").addEventListener("click", () => this.clearUploads());

    const input = byId("file-input");
    input.addEventListener("change", () => {
      this.upload(input.files);
      input.value = "";
    });
    const zone = byId("drop-zone");
    zone.addEventListener("dragover", (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      zone.classList.remove("dragging");
      this.upload(event.dataTransfer.files);
    });
  }

  get locked() {
    return Boolean(this.bucket && this.bucket.locked);
  }

  get filesUrl() {
    return this.record.links.files;
  }

  async open(pid, { focus = false } = {}) {
    if (pid !== this.pid) {
      this.queue.clearFinished();
      byId("uploads").replaceChildren();
      byId("clear-uploads").hidden = true;
      this.editing = null;
      this.files = [];
      this.askToDelete(false, { focus: false });
    }
    this.pid = pid;
    // Uploads to this record still under way (the page was elsewhere).
    for (const upload of this.queue.items) {
      if (upload.recordPid === pid) this.uploadChanged(upload);
    }
    byId("record").hidden = false;
    await this.reload();
    if (focus) byId("record-heading").focus();
  }

  async reload() {
    if (this.pid === null) return;
    const token = ++this.loadToken;
    let record = null;
    let bucket = null;
    let gone = null;
    const size = Math.min(FILES_MAX_PAGE_SIZE, Math.max(FILES_PAGE_SIZE, this.files.length));
    try {
      record = await getJSON(`/records/${encodeURIComponent(this.pid)}`);
      bucket = await getJSON(`${record.links.files}?size=${size}`);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 410) {
        if (token === this.loadToken) showError(`Record ${this.pid}: ${error.message}`);
        return;
      }
      gone = error;
    }
    if (token !== this.loadToken) return; // A newer load is under way.
    this.record = record;
    this.bucket = bucket;
    this.gone = gone;
    this.files = bucket ? bucket.contents : [];
    this.metadata = {};
    this.addMetadata(bucket);
    this.nextFiles = bucket && bucket.links ? bucket.links.next : null;
    this.render();
  }

  // The per-file metadata (description...) of a listing page's entries.
  addMetadata(page) {
    for (const entry of (page && page.entries) || []) {
      if (entry.status === "completed") this.metadata[entry.key] = entry.metadata || {};
    }
  }

  async loadMoreFiles() {
    if (!this.nextFiles) return;
    const first = this.files.length;
    try {
      const page = await getJSON(this.nextFiles);
      this.files = this.files.concat(page.contents);
      this.addMetadata(page);
      this.nextFiles = page.links ? page.links.next : null;
      this.renderFileList();
      // The keyboard goes on where the new files begin.
      const added = byId("file-list").children[first];
      if (added) added.querySelector("a").focus();
      announce(`${page.contents.length} more files shown.`);
    } catch (error) {
      showError(`More files could not be listed: ${error.message}`);
    }
  }

  render() {
    const heading = byId("record-heading");
    byId("record-gone").hidden = !this.gone;
    byId("record-body").hidden = Boolean(this.gone);
    if (this.gone) {
      heading.textContent = `Record ${this.pid}`;
      byId("record-gone-text").textContent =
        `GET /records/${this.pid} answers ${this.gone.status} Gone: ${this.gone.message} ` +
        "Its files are kept, locked, until the record is restored.";
      return;
    }
    const metadata = this.record.metadata;
    heading.textContent = `Record ${this.pid}: ${metadata.title || "(untitled)"}`;
    this.renderState(metadata);
    this.renderSummary(metadata._files_summary);
    this.renderQuota();
    this.renderFileList();
    byId("record-json").textContent = JSON.stringify(this.record, null, 2);
  }

  renderState(metadata) {
    const locked = this.locked;
    byId("record-state").replaceChildren(
      h("span", { class: locked ? "badge badge-locked" : "badge" }, locked ? "Files locked (published)" : "Files open (draft)"),
    );
    const links = [];
    if (metadata.previous_version) {
      links.push("New version of ", h("a", { href: `#/records/${metadata.previous_version}` }, `record ${metadata.previous_version}`), ". ");
    }
    if (metadata.next_version) {
      links.push("A newer version: ", h("a", { href: `#/records/${metadata.next_version}` }, `record ${metadata.next_version}`), ".");
    }
    byId("record-versions").replaceChildren(...links);
    byId("lock-files").hidden = locked;
    byId("unlock-files").hidden = !locked;
    byId("upload-section").hidden = locked;
    byId("file-input").disabled = locked;
  }

  // The summary as the record's JSON has it: its keys, then their values.
  // Readers who may not read restricted files get no total_bytes or mimetypes.
  renderSummary(summary) {
    const rows = summary
      ? [
          ["count", String(summary.count)],
          ...("total_bytes" in summary
            ? [["total_bytes", `${summary.total_bytes} (${formatBytes(summary.total_bytes)})`]]
            : []),
          ...("mimetypes" in summary ? [["mimetypes", summary.mimetypes.join(", ") || "none"]] : []),
          ["default_preview", summary.default_preview || "null"],
          ["inline", String(summary.inline)],
        ]
      : [["(none)", "the record's JSON has no summary"]];
    byId("summary").replaceChildren(
      ...rows.flatMap(([term, value]) => [h("dt", {}, h("code", {}, term)), h("dd", {}, value)]),
    );
  }

  renderQuota() {
    const bar = byId("quota-bar");
    const used = this.bucket.size || 0;
    const quota = this.bucket.quota_size;
    let text = `${formatBytes(used)} used`;
    if (quota) {
      bar.max = quota;
      bar.value = used;
      text += ` of ${formatBytes(quota)} (${((100 * used) / quota).toFixed(2)} %)`;
    } else {
      bar.max = 1;
      bar.value = 0;
      text += ", no quota";
    }
    if (this.bucket.max_file_size) text += `; largest file ${formatBytes(this.bucket.max_file_size)}`;
    byId("quota-text").textContent =
      `${text}. A multipart upload in progress counts with its full size.`;
  }

  renderFileList() {
    renderFiles(byId("file-list"), this.files, this.metadata, {
      locked: this.locked,
      editing: this.editing,
      actions: {
        move: (key, delta) => this.move(key, delta),
        toggleEdit: (key) => this.toggleEdit(key),
        edit: (key, newKey, description) => this.edit(key, newKey, description),
        remove: (key) => this.removeFile(key),
      },
    });
    byId("no-files").hidden = this.files.length > 0;
    byId("more-files").hidden = !this.nextFiles;
    const summary = this.record.metadata._files_summary;
    const total = summary ? summary.count : this.files.length;
    byId("files-shown").textContent =
      this.nextFiles && total > this.files.length
        ? `Showing the first ${this.files.length} of ${total} files.`
        : "";
  }

  // Puts the focus back on a file's control after the list was redrawn.
  focusFileControl(key, action) {
    const list = byId("file-list");
    const wanted = Array.from(list.querySelectorAll("button")).filter(
      (button) => button.dataset.key === key,
    );
    const target =
      wanted.find((button) => button.dataset.action === action && !button.disabled) ||
      wanted.find((button) => !button.disabled);
    (target || byId("files-heading")).focus();
  }

  toggleEdit(key) {
    const previous = this.editing;
    this.editing = key;
    this.renderFileList();
    if (key) {
      const input = byId("file-list").querySelector(".file-edit input");
      if (input) input.focus();
    } else if (previous) {
      this.focusFileControl(previous, "edit");
    }
  }

  async move(key, delta) {
    const keys = this.files.map((file) => file.key);
    const from = keys.indexOf(key);
    const to = from + delta;
    if (from < 0 || to < 0 || to >= keys.length) return;
    keys.splice(from, 1);
    keys.splice(to, 0, key);
    try {
      await request("PUT", `${actionsUrl(this.pid)}/order`, { keys });
      await this.reload();
      this.focusFileControl(key, delta < 0 ? "up" : "down");
      announce(`${key} moved to position ${to + 1} of ${keys.length}.`);
    } catch (error) {
      showError(`${key} could not be moved: ${error.message}`);
    }
  }

  async edit(key, newKey, description) {
    const problem = keyProblem(newKey);
    if (problem) {
      showError(problem);
      return;
    }
    const body = { key, metadata: { description: description || null } };
    if (newKey !== key) body.rename_to = newKey;
    try {
      await request("PATCH", `${actionsUrl(this.pid)}/file`, body);
      this.editing = null;
      await this.reload();
      this.focusFileControl(newKey, "edit");
      announce(newKey !== key ? `${key} renamed to ${newKey}.` : `${key} saved.`);
    } catch (error) {
      showError(`${key} could not be changed: ${error.message}`);
    }
  }

  async removeFile(key) {
    const index = this.files.findIndex((file) => file.key === key);
    const file = this.files[index];
    try {
      await request("DELETE", file.links.self);
      await this.reload();
      this.onChanged(); // the records' list shows how many files each has
      const neighbour = this.files[Math.min(index, this.files.length - 1)];
      if (neighbour) this.focusFileControl(neighbour.key, "delete");
      else byId("files-heading").focus();
      announce(`${key} deleted.`);
    } catch (error) {
      showError(`${key} could not be deleted: ${error.message}`);
    }
  }

  upload(fileList) {
    if (!fileList || !fileList.length) return;
    if (this.gone || this.locked) {
      showError("The files of this record are locked: unlock them to upload.");
      return;
    }
    const added = this.queue.add(fileList, this.filesUrl, this.pid);
    announce(`${added.length} upload${added.length === 1 ? "" : "s"} queued.`);
  }

  uploadChanged(upload) {
    // An upload goes on when the page shows another record; it shows in its own.
    if (upload.recordPid !== this.pid) return;
    renderUpload(byId("uploads"), upload, {
      retry: (item) => this.queue.retry(item),
      cancel: (item) => this.cancelUpload(item),
    });
    byId("clear-uploads").hidden = !this.queue.items.some(
      (item) => item.finished && item.recordPid === this.pid,
    );
    if (upload.state !== this.lastAnnounced?.[upload.id]) {
      this.lastAnnounced = { ...this.lastAnnounced, [upload.id]: upload.state };
      if (upload.state === "done") {
        announce(`${upload.key} uploaded.`);
        this.reload();
      } else if (upload.state === "failed") {
        const next = upload.retryable ? "Retry is available." : "Retrying would not help.";
        announce(`${upload.key} failed: ${upload.error.message} ${next}`);
      } else if (upload.state === "cancelled") {
        announce(`${upload.key} cancelled.`);
      }
    }
  }

  // Cancels an upload, then shows the bucket as the server left it: an
  // aborted multipart upload no longer holds its share of the quota.
  async cancelUpload(upload) {
    await this.queue.cancel(upload);
    if (upload.recordPid === this.pid) await this.reload();
  }

  clearUploads() {
    const list = byId("uploads");
    for (const upload of this.queue.items) {
      if (upload.finished) list.querySelector(`[data-upload="${upload.id}"]`)?.remove();
    }
    this.queue.clearFinished();
    byId("clear-uploads").hidden = true;
    byId("upload-heading").focus();
  }

  async act(method, action, message) {
    try {
      await request(method, `${actionsUrl(this.pid)}/${action}`);
      await this.reload();
      announce(message);
      this.onChanged();
    } catch (error) {
      showError(error.message);
    }
  }

  async newVersion() {
    try {
      const created = await request("POST", `${actionsUrl(this.pid)}/versions`);
      announce(`Record ${created.id} created: a new version sharing the files' bytes.`);
      this.onChanged();
      this.onOpen(created.id);
    } catch (error) {
      showError(`No new version: ${error.message}`);
    }
  }

  // Shows (or hides) the question "Delete record N?" under the button.
  askToDelete(asking, { focus = true } = {}) {
    const button = byId("delete-record");
    const box = byId("delete-confirm");
    const wasAsking = !box.hidden;
    box.hidden = !asking;
    button.setAttribute("aria-expanded", String(asking));
    if (asking) {
      byId("delete-confirm-text").textContent =
        `Delete record ${this.pid}? It answers 410 Gone until it is restored; ` +
        "its files are kept, locked.";
      if (focus) byId("keep-record").focus();
    } else if (wasAsking && focus) {
      button.focus();
    }
  }

  async deleteRecord() {
    this.askToDelete(false, { focus: false });
    try {
      await request("DELETE", `/records/${encodeURIComponent(this.pid)}`);
      await this.reload();
      announce(`Record ${this.pid} deleted. It can be restored.`);
      byId("restore-record").focus();
      this.onChanged();
    } catch (error) {
      showError(`The record could not be deleted: ${error.message}`);
    }
  }

  async restore() {
    try {
      await request("POST", `${actionsUrl(this.pid)}/restore`);
      await this.reload();
      announce(`Record ${this.pid} restored.`);
      byId("record-heading").focus();
      this.onChanged();
    } catch (error) {
      showError(`The record could not be restored: ${error.message}`);
    }
  }
}
