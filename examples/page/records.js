// The list of records (GET /records/, newest first) and the form that
// creates one (POST /records/).

import { getJSON, request } from "./api.js";
import { announce, byId, h, showError } from "./dom.js";

const PAGE_SIZE = 10;

export class RecordList {
  constructor(onOpen) {
    this.page = 1;
    this.total = 0;
    this.onOpen = onOpen;
    byId("create-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    byId("newer-records").addEventListener("click", () => this.turn(-1));
    byId("older-records").addEventListener("click", () => this.turn(1));
  }

  async create() {
    const input = byId("new-title");
    const title = input.value.trim();
    if (!title) {
      showError("Give the record a title.");
      input.focus();
      return;
    }
    try {
      const created = await request("POST", "/records/", { title });
      input.value = "";
      announce(`Record ${created.id} created.`);
      this.page = 1;
      await this.load();
      this.onOpen(created.id);
    } catch (error) {
      showError(`The record could not be created: ${error.message}`);
    }
  }

  turn(delta) {
    this.page = Math.max(1, this.page + delta);
    this.load();
  }

  async load(currentPid = null) {
    const status = byId("records-status");
    let answer;
    try {
      answer = await getJSON(`/records/?size=${PAGE_SIZE}&page=${this.page}`);
    } catch (error) {
      status.textContent = `The records could not be listed: ${error.message}`;
      return;
    }
    const hits = answer.hits.hits;
    this.total = answer.hits.total;
    const pages = Math.max(1, Math.ceil(this.total / PAGE_SIZE));
    status.textContent = this.total
      ? `${this.total} record${this.total === 1 ? "" : "s"}, newest first.`
      : "No records yet: create one.";
    const list = byId("record-list");
    list.replaceChildren(
      ...hits.map((hit) => {
        const summary = hit.metadata._files_summary || { count: 0 };
        const current = String(hit.id) === String(currentPid);
        return h(
          "li",
          {},
          h(
            "a",
            { href: `#/records/${hit.id}`, "aria-current": current ? "page" : false },
            hit.metadata.title || "(untitled)",
          ),
          h("span", { class: "meta" }, ` record ${hit.id}, ${summary.count} file${summary.count === 1 ? "" : "s"}`),
        );
      }),
    );
    byId("records-page").textContent = `Page ${this.page} of ${pages}`;
    byId("newer-records").disabled = this.page <= 1;
    byId("older-records").disabled = this.page >= pages;
  }
}
