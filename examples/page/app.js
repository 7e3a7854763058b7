// The deposit page: the list of records, and the record named in the URL's
// fragment (#/records/<id>), so that a record's view can be bookmarked.

import { RecordList } from "./records.js";
import { RecordView } from "./record.js";

const RECORD_ROUTE = /^#\/records\/([^/]+)$/;

function pidInLocation() {
  const match = RECORD_ROUTE.exec(window.location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function openRecord(pid) {
  const hash = `#/records/${encodeURIComponent(pid)}`;
  if (window.location.hash === hash) {
    view.open(pid, { focus: true });
  } else {
    window.location.hash = hash;
  }
}

const list = new RecordList(openRecord);
const view = new RecordView({
  onChanged: () => list.load(view.pid),
  onOpen: openRecord,
});

window.addEventListener("hashchange", () => {
  const pid = pidInLocation();
  list.load(pid);
  if (pid !== null) view.open(pid, { focus: true });
});

const initial = pidInLocation();
list.load(initial);
if (initial !== null) view.open(initial);
document.documentElement.dataset.ready = "true";
