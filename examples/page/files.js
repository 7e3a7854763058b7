// The files of a record, in the record's order: download, rename, describe,
// move up or down, delete. Every control is a button or a form field, so
// the list works with the keyboard alone.

import { formatBytes, h } from "./dom.js";

function describeFile(file, position, count) {
  return `${file.key}, file ${position} of ${count}`;
}

// Renders the files into the <ol>. `actions` has edit(key, newKey,
// description), move(key, delta), remove(key); `editing` is the key whose
// form is open, if any.
export function renderFiles(list, files, metadata, { locked, editing, actions }) {
  const count = files.length;
  list.replaceChildren(
    ...files.map((file, index) => {
      const key = file.key;
      const description = (metadata[key] || {}).description || "";
      const formId = `edit-${index}`;
      const item = h(
        "li",
        { class: "file", dataset: { key } },
        h(
          "div",
          { class: "file-head" },
          h("a", { href: file.links.self, download: key.split("/").pop(), class: "file-name" }, key),
          h(
            "span",
            { class: "meta" },
            `${formatBytes(file.size)} · ${file.mimetype || "unknown type"} · `,
            h("code", { title: file.checksum }, (file.checksum || "").slice(0, 16)),
          ),
        ),
        description ? h("p", { class: "description" }, description) : null,
      );
      if (!locked) {
        const label = describeFile(file, index + 1, count);
        item.append(
          h(
            "div",
            { class: "file-actions", role: "group", "aria-label": `Actions for ${key}` },
            h(
              "button",
              {
                type: "button",
                dataset: { key, action: "up" },
                "aria-label": `Move up: ${label}`,
                disabled: index === 0,
                onclick: () => actions.move(key, -1),
              },
              "Move up",
            ),
            h(
              "button",
              {
                type: "button",
                dataset: { key, action: "down" },
                "aria-label": `Move down: ${label}`,
                disabled: index === count - 1,
                onclick: () => actions.move(key, 1),
              },
              "Move down",
            ),
            h(
              "button",
              {
                type: "button",
                dataset: { key, action: "edit" },
                "aria-expanded": String(editing === key),
                "aria-controls": formId,
                "aria-label": `Rename or describe ${key}`,
                onclick: () => actions.toggleEdit(key),
              },
              "Rename or describe",
            ),
            h(
              "button",
              {
                type: "button",
                class: "danger",
                dataset: { key, action: "delete" },
                "aria-label": `Delete ${key}`,
                onclick: () => actions.remove(key),
              },
              "Delete",
            ),
          ),
        );
        if (editing === key) item.append(editForm(formId, key, description, actions));
      }
      return item;
    }),
  );
}

function editForm(formId, key, description, actions) {
  const keyId = `${formId}-key`;
  const descriptionId = `${formId}-description`;
  const form = h(
    "form",
    { id: formId, class: "file-edit", "aria-label": `Rename or describe ${key}` },
    h("label", { for: keyId }, "File name"),
    h("input", { id: keyId, name: "key", type: "text", value: key, required: true, autocomplete: "off" }),
    h("label", { for: descriptionId }, "Description"),
    h("textarea", { id: descriptionId, name: "description", rows: 2 }, description),
    h(
      "div",
      { class: "form-buttons" },
      h("button", { type: "submit" }, "Save"),
      h("button", { type: "button", onclick: () => actions.toggleEdit(null) }, "Cancel"),
    ),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    actions.edit(key, form.elements.key.value.trim(), form.elements.description.value.trim());
  });
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") actions.toggleEdit(null);
  });
  return form;
}
