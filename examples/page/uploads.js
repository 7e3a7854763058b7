// Uploads of local files into a record, one file after the other.
//
// A file up to PART_SIZE goes in one PUT. A larger one goes through a
// multipart upload: start it (POST ?uploads), send the parts (PUT
// ?uploadId=&partNumber=), complete it (POST ?uploadId=). A failed upload
// keeps its upload id: retrying asks the server which parts it already has
// and sends only the others. Only failures that may go away are retried
// (ApiError.retryable): a refused name, an empty file or a full quota fail
// the same way every time.

import { ApiError, fileUrl, getJSON, RefusedError, request, send } from "./api.js";

export const PART_SIZE = 5 * 1024 * 1024;

let counter = 0;

// A 404 for a part or the completion: the server forgot the upload (it was
// aborted, or collected). Retry starts it again, so that one may help.
async function forgotten(sent) {
  try {
    return await sent;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) error.retryable = true;
    throw error;
  }
}

export class Upload {
  constructor(file, filesUrl, recordPid) {
    this.id = `upload-${++counter}`;
    this.recordPid = recordPid;
    this.file = file;
    this.key = file.name;
    this.url = null;
    this.refusal = null;
    try {
      this.url = fileUrl(filesUrl, this.key);
    } catch (error) {
      this.refusal = error; // Sent never: the key would change the URL.
    }
    this.multipart = file.size > PART_SIZE;
    this.state = "queued"; // queued, uploading, done, failed, cancelled
    this.loaded = 0; // bytes sent so far, for the progress bar
    this.accepted = 0; // bytes the server has acknowledged
    this.error = null;
    this.uploadId = null;
    this.partsSent = 0;
    this.controller = null;
  }

  get partCount() {
    return Math.max(1, Math.ceil(this.file.size / PART_SIZE));
  }

  // Whether Retry may help: the upload failed for a reason that can pass.
  get retryable() {
    return this.state === "failed" && Boolean(this.error && this.error.retryable);
  }

  // Done, cancelled, or failed for good: nothing more will happen to it.
  get finished() {
    return this.state === "done" || this.state === "cancelled" ||
      (this.state === "failed" && !this.retryable);
  }

  async run(onChange) {
    this.state = "uploading";
    this.error = null;
    this.controller = new AbortController();
    onChange(this);
    try {
      if (this.refusal) throw this.refusal;
      if (this.multipart) {
        await this.sendParts(onChange);
      } else {
        await send("PUT", this.url, this.file, {
          signal: this.controller.signal,
          onProgress: (loaded) => this.progress(loaded, onChange),
        });
      }
      this.accepted = this.file.size;
      this.loaded = this.file.size;
      this.state = "done";
    } catch (error) {
      if (this.state !== "cancelled") {
        this.state = "failed";
        this.error = error instanceof ApiError ? error : new RefusedError(String(error));
        // What was sent but not acknowledged does not count: the bar shows
        // what the server holds.
        this.loaded = this.accepted;
        // A failure for good: the parts sent would only hold the quota.
        if (!this.error.retryable) await this.abortOnServer();
      }
    } finally {
      this.controller = null;
    }
    onChange(this);
  }

  progress(loaded, onChange) {
    this.loaded = Math.min(loaded, this.file.size);
    onChange(this);
  }

  async sendParts(onChange) {
    const signal = this.controller.signal;
    let have = new Set();
    if (this.uploadId) {
      // A retry: the server says which parts arrived.
      try {
        const listing = await getJSON(`${this.url}?uploadId=${this.uploadId}`);
        have = new Set((listing.parts || []).map((part) => part.part_number));
      } catch (error) {
        if (!(error instanceof ApiError) || error.status !== 404) throw error;
        this.uploadId = null; // The server forgot it: start again.
      }
    }
    if (!this.uploadId) {
      const started = await request(
        "POST",
        `${this.url}?uploads&size=${this.file.size}&partSize=${PART_SIZE}`,
      );
      this.uploadId = started.id;
      if (this.state === "cancelled") {
        // Cancelled while the server was starting it.
        await this.abortOnServer();
        throw new ApiError(0, "Cancelled.");
      }
    }
    const sizeOf = (n) => Math.min(PART_SIZE, this.file.size - n * PART_SIZE);
    this.accepted = 0;
    for (const n of have) this.accepted += sizeOf(n);
    this.partsSent = have.size;
    this.progress(this.accepted, onChange);
    for (let n = 0; n < this.partCount; n++) {
      if (have.has(n)) continue;
      const body = this.file.slice(n * PART_SIZE, n * PART_SIZE + sizeOf(n));
      const before = this.accepted;
      await forgotten(
        send("PUT", `${this.url}?uploadId=${this.uploadId}&partNumber=${n}`, body, {
          signal,
          onProgress: (loaded) => this.progress(before + loaded, onChange),
        }),
      );
      this.accepted += sizeOf(n);
      this.partsSent += 1;
      this.progress(this.accepted, onChange);
    }
    await forgotten(request("POST", `${this.url}?uploadId=${this.uploadId}`));
    this.uploadId = null;
  }

  // Stops the upload; a multipart upload is aborted on the server too, so
  // that its parts do not keep their share of the quota.
  async cancel() {
    this.state = "cancelled";
    if (this.controller) this.controller.abort();
    await this.abortOnServer();
  }

  // Aborts the multipart upload on the server, if there is one. The counts
  // go back to zero unless the server refused (a locked record keeps the
  // parts it has: the page says so).
  async abortOnServer() {
    const uploadId = this.uploadId;
    this.uploadId = null;
    if (uploadId) {
      try {
        await request("DELETE", `${this.url}?uploadId=${uploadId}`);
      } catch (error) {
        // Gone already (404), or unreachable: nothing more to do here.
        if (error instanceof ApiError && error.status >= 400 && error.status !== 404) return;
      }
    }
    this.loaded = this.accepted = 0;
    this.partsSent = 0;
  }
}

// Runs uploads one at a time, in the order they were added.
export class UploadQueue {
  constructor(onChange, onIdle) {
    this.items = [];
    this.onChange = onChange;
    this.onIdle = onIdle;
    this.running = false;
  }

  add(files, filesUrl, recordPid) {
    const added = Array.from(files, (file) => new Upload(file, filesUrl, recordPid));
    this.items.push(...added);
    added.forEach((upload) => this.onChange(upload));
    this.pump();
    return added;
  }

  retry(upload) {
    if (!upload.retryable) return;
    upload.state = "queued";
    this.onChange(upload);
    this.pump();
  }

  // Resolves once the server has forgotten the upload (its parts aborted).
  async cancel(upload) {
    await upload.cancel();
    this.onChange(upload);
    this.pump();
  }

  clearFinished() {
    this.items = this.items.filter((upload) => !upload.finished);
  }

  async pump() {
    if (this.running) return;
    this.running = true;
    let changed = false;
    try {
      let next;
      while ((next = this.items.find((upload) => upload.state === "queued"))) {
        await next.run(this.onChange);
        changed = true;
      }
    } finally {
      this.running = false;
    }
    if (changed) this.onIdle();
  }
}
