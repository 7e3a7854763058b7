// Calls to the demo's REST routes. Every failure becomes an ApiError that
// carries the HTTP status and the JSON message the server sent.

// Statuses after which the same request may succeed later: no answer at all
// (0), a timeout, a conflict with another writer, a lock, too many requests,
// a server error. Any other 4xx (a bad name, an empty file, the quota, a
// locked record) fails again however often it is sent.
const TRANSIENT = new Set([0, 408, 409, 423, 425, 429]);

export class ApiError extends Error {
  constructor(status, message, { retryable } = {}) {
    super(message || `HTTP ${status}`);
    this.status = status;
    // Whether sending the request again may help.
    this.retryable = retryable ?? (TRANSIENT.has(status) || status >= 500);
  }
}

// A request the page refuses to send (a key that would change the URL's
// path, say): sending it again would be refused again.
export class RefusedError extends ApiError {
  constructor(message) {
    super(0, message, { retryable: false });
  }
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body && body.message) message = body.message;
  } catch (ignored) {
    // Not JSON: the status line says enough.
  }
  return new ApiError(response.status, message);
}

export async function request(method, url, body) {
  // no-store: the records' answers carry Last-Modified, which would let
  // the browser reuse a stale copy.
  const options = { method, headers: { Accept: "application/json" }, cache: "no-store" };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (error) {
    throw new ApiError(0, "The server could not be reached.");
  }
  if (!response.ok) throw await errorOf(response);
  if (response.status === 204) return null;
  return response.json();
}

export const getJSON = (url) => request("GET", url);

// Sends a body with XMLHttpRequest, which (unlike fetch) reports the upload's
// progress. Resolves with the JSON answer; rejects with an ApiError (status 0
// when the request never got an answer, or was aborted).
export function send(method, url, body, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.setRequestHeader("Accept", "application/json");
    if (body !== null && body !== undefined) {
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
    }
    xhr.upload.onprogress = (event) => {
      if (onProgress && event.lengthComputable) onProgress(event.loaded);
    };
    xhr.onload = () => {
      let json = null;
      try {
        json = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch (ignored) {
        json = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(json);
      } else {
        reject(new ApiError(xhr.status, (json && json.message) || `HTTP ${xhr.status}`));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, "The connection failed."));
    xhr.onabort = () => reject(new ApiError(0, "Cancelled."));
    if (signal) {
      if (signal.aborted) {
        xhr.abort();
        return;
      }
      signal.addEventListener("abort", () => xhr.abort(), { once: true });
    }
    xhr.send(body === undefined ? null : body);
  });
}

// Why a key cannot be sent in a URL, or null. Each "/"-separated segment of
// a key becomes a segment of the URL's path: "." and ".." (which the
// browser resolves, climbing out of the record's files) and empty segments
// are refused here, before anything is sent.
export function keyProblem(key) {
  if (typeof key !== "string" || key === "") return "A file needs a name.";
  for (const segment of key.split("/")) {
    if (segment === "") {
      return `"${key}" has an empty path segment (a leading, trailing or double "/").`;
    }
    if (segment === "." || segment === "..") {
      return `"${key}" has a "${segment}" path segment: a file name cannot climb out of its folder.`;
    }
  }
  return null;
}

// The URL of a file under a record's files URL. Each "/"-separated segment
// is encoded (a "\", "?", "#" or "%" in a key reaches the URL encoded, so
// "%2e" stays a name), and dot and empty segments are refused with a
// RefusedError: no key can change the URL's path.
export function fileUrl(filesUrl, key) {
  const problem = keyProblem(key);
  if (problem) throw new RefusedError(problem);
  return `${filesUrl}/${key.split("/").map(encodeURIComponent).join("/")}`;
}

// The demo's own routes (examples/actions.py) for one record.
export function actionsUrl(pid) {
  return `/demo/records/${encodeURIComponent(pid)}`;
}
