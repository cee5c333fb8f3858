// pixelgate console: copy buttons, confirmations, the key editor, the playground and live
// task rows. No dependencies.
"use strict";

function copyFrom(selector, button) {
  const el = document.querySelector(selector);
  if (!el) return;
  const text = "value" in el ? el.value : el.textContent;
  const done = () => {
    const before = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = before; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => fallbackCopy(el, done));
  } else {
    fallbackCopy(el, done);
  }
}

function fallbackCopy(el, done) {
  const area = document.createElement("textarea");
  area.value = "value" in el ? el.value : el.textContent;
  document.body.appendChild(area);
  area.select();
  try { document.execCommand("copy"); done(); } finally { area.remove(); }
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (button) copyFrom(button.dataset.copy, button);
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// ---- playground ----------------------------------------------------------------------

const SDK_KWARGS = {
  generate: ["model", "prompt", "n", "size", "quality", "response_format", "style", "user",
    "background", "moderation", "output_format", "output_compression"],
  edit: ["model", "prompt", "n", "size", "quality", "response_format", "user", "background",
    "input_fidelity", "output_format", "output_compression"],
};

function shellQuote(text) {
  return "'" + String(text).replace(/'/g, "'\\''") + "'";
}

function pyValue(value) {
  return JSON.stringify(value);  // JSON strings and numbers are valid Python literals
}

function curlSnippet(origin, op, body, files) {
  const lines = [];
  if (op === "generate") {
    lines.push(`curl -s ${origin}/v1/images/generations`);
    lines.push(`  -H "Authorization: Bearer $PIXELGATE_KEY"`);
    lines.push(`  -H "Content-Type: application/json"`);
    lines.push(`  -d ${shellQuote(JSON.stringify(body))}`);
  } else {
    lines.push(`curl -s ${origin}/v1/images/edits`);
    lines.push(`  -H "Authorization: Bearer $PIXELGATE_KEY"`);
    for (const [key, value] of Object.entries(body)) lines.push(`  -F ${shellQuote(key + "=" + value)}`);
    const field = files.images.length > 1 ? "image[]" : "image";
    for (const name of files.images) lines.push(`  -F ${shellQuote(field + "=@" + name)}`);
    if (files.mask) lines.push(`  -F ${shellQuote("mask=@" + files.mask)}`);
  }
  return lines.join(" \\\n");
}

function pythonSnippet(origin, op, body, files) {
  const known = SDK_KWARGS[op];
  const args = [];
  const extra = {};
  if (op === "edit") {
    const opened = files.images.map((n) => `open(${pyValue(n)}, "rb")`);
    args.push(`    image=${opened.length > 1 ? "[" + opened.join(", ") + "]" : opened[0] || 'open("image.png", "rb")'},`);
    if (files.mask) args.push(`    mask=open(${pyValue(files.mask)}, "rb"),`);
  }
  for (const [key, value] of Object.entries(body)) {
    if (known.includes(key)) args.push(`    ${key}=${pyValue(value)},`);
    else extra[key] = value;
  }
  if (Object.keys(extra).length) args.push(`    extra_body=${JSON.stringify(extra)},`);
  return [
    "import os",
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${pyValue(origin + "/v1")}, api_key=os.environ["PIXELGATE_KEY"])`,
    `result = client.images.${op === "generate" ? "generate" : "edit"}(`,
    ...args,
    ")",
    "for image in result.data:",
    "    print(image.url)",
  ].join("\n");
}

function field(spec) {
  const label = document.createElement("label");
  label.textContent = spec.label + " ";
  let input;
  if (spec.kind === "number") {
    input = document.createElement("input");
    input.type = "number";
    input.min = spec.min;
    input.max = spec.max;
    if (spec.default !== null && spec.default !== undefined) input.value = spec.default;
    else input.placeholder = "default";
  } else {
    input = document.createElement("select");
    if (spec.kind !== "size" || !spec.default) input.append(new Option("(default)", ""));
    for (const option of spec.options) input.append(new Option(option, option));
    if (spec.kind === "size" && spec.custom) input.append(new Option("custom…", "custom"));
    if (spec.default) input.value = spec.default;
  }
  input.name = spec.name;
  input.dataset.field = spec.name;
  label.append(input);
  if (spec.kind === "size" && spec.custom) {
    const custom = document.createElement("input");
    custom.placeholder = "WIDTHxHEIGHT";
    custom.dataset.customSize = "1";
    custom.hidden = true;
    custom.size = 11;
    input.addEventListener("change", () => { custom.hidden = input.value !== "custom"; });
    label.append(custom);
  }
  return label;
}

function initPlayground() {
  const form = document.getElementById("pg-form");
  const specEl = document.getElementById("pg-spec");
  if (!form || !specEl) return;
  const specs = JSON.parse(specEl.textContent);
  const $ = (id) => document.getElementById(id);
  const model = $("pg-model"), op = $("pg-op"), fields = $("pg-fields");
  const origin = window.location.origin;

  for (const s of specs) model.append(new Option(s.model, s.model));
  const current = () => specs.find((s) => s.model === model.value) || specs[0];

  function renderOps() {
    const spec = current();
    op.replaceChildren(...spec.operations.map((o) => new Option(o, o)));
    renderFields();
  }

  function renderFields() {
    const spec = current();
    $("pg-desc").textContent = spec.description || "";
    fields.replaceChildren(...spec.fields[op.value].map(field));
    const editing = op.value === "edit";
    $("pg-files").hidden = !editing;
    $("pg-image").required = editing;
    $("pg-image").multiple = spec.max_input_images > 1;
    $("pg-submit").textContent = editing ? "Edit" : "Generate";
    updateSnippets();
  }

  function body() {
    const out = { model: model.value, prompt: $("pg-prompt").value };
    for (const input of fields.querySelectorAll("[data-field]")) {
      let value = input.value;
      if (value === "custom") value = input.parentElement.querySelector("[data-custom-size]").value.trim();
      if (value === "") continue;
      out[input.dataset.field] = input.type === "number" ? Number(value) : value;
    }
    out.response_format = "url";
    return out;
  }

  function fileNames() {
    const images = Array.from($("pg-image").files).map((f) => f.name);
    const mask = $("pg-mask").files[0];
    return { images: images.length ? images : ["image.png"], mask: mask ? mask.name : null };
  }

  function updateSnippets() {
    const b = body();
    $("pg-curl").textContent = curlSnippet(origin, op.value, b, fileNames());
    $("pg-python").textContent = pythonSnippet(origin, op.value, b, fileNames());
  }

  model.addEventListener("change", renderOps);
  op.addEventListener("change", renderFields);
  form.addEventListener("input", updateSnippets);
  form.addEventListener("change", updateSnippets);
  const keySelect = $("pg-key");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData();
    data.append("operation", op.value);
    data.append("body", JSON.stringify(body()));
    if (keySelect) data.append("key_id", keySelect.value);
    if (op.value === "edit") {
      for (const file of $("pg-image").files) data.append("image", file);
      if ($("pg-mask").files[0]) data.append("mask", $("pg-mask").files[0]);
    }
    $("pg-error").hidden = true;
    $("pg-images").replaceChildren();
    $("pg-meta").textContent = "";
    $("pg-status").textContent = "Running…";
    $("pg-submit").disabled = true;
    try {
      const resp = await fetch(form.dataset.run, {
        method: "POST",
        body: data,
        headers: { "X-CSRF-Token": form.dataset.csrf },
        credentials: "same-origin",
      });
      const result = await resp.json();
      showResult(result);
    } catch (err) {
      showError(String(err));
    } finally {
      $("pg-status").textContent = "";
      $("pg-submit").disabled = false;
    }
  });

  function showError(message) {
    $("pg-error").textContent = message;
    $("pg-error").hidden = false;
  }

  function showResult(result) {
    const answer = result.response || {};
    const meta = [];
    if (result.status) meta.push("HTTP " + result.status);
    if (result.request_id) meta.push("request " + result.request_id);
    if (result.cost) meta.push("cost " + result.cost);
    if (result.dropped_params) meta.push("dropped: " + result.dropped_params);
    $("pg-meta").textContent = meta.join(" · ");
    if (answer.error) { showError(answer.error.message || "The request failed."); return; }
    for (const item of answer.data || []) {
      if (!item.url) continue;
      const link = new URL(item.url, window.location.href);
      const local = link.pathname + link.search;  // same origin, whatever PUBLIC_URL says
      const a = document.createElement("a");
      a.href = local;
      a.target = "_blank";
      a.rel = "noopener";
      const img = document.createElement("img");
      img.src = local;
      img.alt = item.revised_prompt || "generated image";
      a.append(img);
      $("pg-images").append(a);
    }
  }

  renderOps();
}

document.addEventListener("DOMContentLoaded", initPlayground);

// ---- keys: ticking a model means "only the ticked ones" --------------------------------

document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.name !== "allowed_models" || !box.checked) return;
  const only = box.form && box.form.querySelector("input[name=models][value=only]");
  if (only) only.checked = true;
});

// ---- requests page: live task rows ---------------------------------------------------
// Rows of tasks still pending or processing are refreshed from /console/tasks.json (the
// same session, scoped like the page) until every one of them is final.

function taskCell(row, name) {
  return row.querySelector("td.task-" + name);
}

function renderTask(row, task) {
  const status = document.createElement("span");
  status.className = "status " + task.style;
  status.title = task.state;
  status.textContent = task.status;
  const statusCell = taskCell(row, "status");
  statusCell.replaceChildren(status);
  if (task.error) {
    const error = document.createElement("div");
    error.className = "tiny muted";
    error.textContent = task.error;
    statusCell.append(error);
  }
  const progressCell = taskCell(row, "progress");
  if (task.progress === null || task.progress === undefined) {
    const none = document.createElement("span");
    none.className = "muted";
    none.textContent = "—";
    progressCell.replaceChildren(none);
  } else {
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = task.progress;
    const text = document.createElement("span");
    text.textContent = task.progress + " %";
    progressCell.replaceChildren(bar, " ", text);
  }
  taskCell(row, "updated").textContent = task.updated;
  taskCell(row, "cost").textContent = task.cost;
  const thumbs = task.thumbs.map((src) => {
    const link = document.createElement("a");
    link.href = src;
    link.target = "_blank";
    link.rel = "noopener";
    const img = document.createElement("img");
    img.src = src;
    img.alt = "result of " + task.id;
    img.width = 64;
    img.height = 64;
    link.append(img);
    return link;
  });
  taskCell(row, "thumbs").replaceChildren(...thumbs);
  row.dataset.final = task.final ? "true" : "false";
}

function initTaskPolling() {
  const table = document.getElementById("tasks-table");
  if (!table || !table.dataset.poll) return;
  const interval = Number(table.dataset.interval) || 2000;
  const active = () => Array.from(table.querySelectorAll("tr[data-task-id][data-final=false]"));

  async function poll() {
    const rows = active();
    if (!rows.length) return;  // every task is final: nothing left to watch
    if (!document.hidden) {
      const ids = rows.map((row) => row.dataset.taskId).join(",");
      let resp;
      try {
        resp = await fetch(table.dataset.poll + "?ids=" + encodeURIComponent(ids), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
      } catch (err) {
        resp = null;  // the gateway restarting: try again at the next tick
      }
      if (resp && resp.status === 401) return;  // the session ended: stop
      if (resp && resp.ok) {
        const body = await resp.json();
        const seen = new Set();
        for (const task of body.tasks || []) {
          const row = table.querySelector(`tr[data-task-id="${CSS.escape(task.id)}"]`);
          if (row) renderTask(row, task);
          seen.add(task.id);
        }
        // A task the answer leaves out is no longer this viewer's to see: stop asking.
        for (const row of rows) if (!seen.has(row.dataset.taskId)) row.dataset.final = "true";
      }
    }
    setTimeout(poll, interval);
  }

  setTimeout(poll, interval);
}

document.addEventListener("DOMContentLoaded", initTaskPolling);
