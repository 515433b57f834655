/* leukodet web page: upload a film, read its report, review its cells. Plain JavaScript, no external resource;
   every value from the service is put into the page as text (never as HTML). API: docs/service.md. */
(function () {
  "use strict";

  var API = "/v1";
  var PAGE = 20;
  var state = { id: null, analysis: null, hidden: {}, files: [], offset: 0, total: 0, cell: null };
  var ROLE_GROUPS = [["wbc", "White cells"], ["rbc", "Red cells"], ["platelet", "Platelets"],
    ["artefact", "Artefacts (counted apart)"], ["other", "Other (counted apart)"]];

  function $(id) { return document.getElementById(id); }

  /* An element: attrs are properties (className, textContent, href, ...) or "data-*" / "aria-*" attributes. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key.indexOf("data-") === 0 || key.indexOf("aria-") === 0) { node.setAttribute(key, attrs[key]); }
      else { node[key] = attrs[key]; }
    });
    (children || []).forEach(function (child) {
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function svg(tag, attrs) {
    var node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    Object.keys(attrs).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } return node; }

  /* API tokens (a service started with --token): kept for this tab, sent as a Bearer header and as a
     SameSite=Strict cookie so that the images the page shows carry it too. */
  var TOKEN_KEY = "leukodet.token";

  function token() {
    try { return sessionStorage.getItem(TOKEN_KEY) || ""; } catch (e) { return ""; }
  }

  function keepToken(value) {
    try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* storage off: this page only */ }
    document.cookie = "leukodet_token=" + encodeURIComponent(value) + "; path=/; SameSite=Strict";
  }

  async function api(path, options, retried) {
    options = options || {};
    var headers = Object.assign({}, options.headers || {});
    if (token()) { headers.Authorization = "Bearer " + token(); }
    var response = await fetch(API + path, Object.assign({}, options, { headers: headers }));
    if (response.status === 401 && !retried) {
      var given = window.prompt("This service needs an API token (ask whoever runs it):", "");
      if (given && given.trim()) { keepToken(given.trim()); return api(path, options, true); }
    }
    var type = response.headers.get("content-type") || "";
    var body = type.indexOf("json") >= 0 ? await response.json() : null;
    if (!response.ok) {
      var detail = body && body.detail;
      throw new Error(typeof detail === "string" ? detail : response.status + " " + response.statusText);
    }
    return body;
  }

  /* Class colours: the HTML report's (golden-ratio hue steps, HSV s=0.85 v=0.95), by class index. */
  function colour(index) {
    var h = (index * 0.618033988749895) % 1, s = 0.85, v = 0.95;
    var i = Math.floor(h * 6), f = h * 6 - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    var rgb = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i % 6];
    return "rgb(" + rgb.map(function (x) { return Math.floor(x * 255); }).join(", ") + ")";
  }

  function classes(report) {
    var known = report.model.classes.slice();
    var extra = report.cells.map(function (c) { return c["class"]; })
      .filter(function (c, i, all) { return known.indexOf(c) < 0 && all.indexOf(c) === i; }).sort();
    return known.concat(extra);
  }

  function classColour(report, name) { return colour(classes(report).indexOf(name)); }

  function swatch(report, name) {
    var node = el("span", { className: "swatch" });
    node.style.background = classColour(report, name);
    return node;
  }

  function pct(value) { return value === null ? "–" : value.toFixed(1) + "%"; }
  function ci(pair) { return pair === null ? "–" : pair[0].toFixed(1) + "–" + pair[1].toFixed(1) + "%"; }
  function when(iso) { var d = new Date(iso); return isNaN(d) ? iso : d.toLocaleString(); }

  function say(node, text, isError) {
    node.textContent = text || "";
    node.classList.toggle("error", !!isError);
  }

  /* ---- upload ---- */

  var ACCEPTED = /\.(png|jpe?g|tiff?)$/i;

  function chooseFiles(list) {
    var files = Array.prototype.filter.call(list, function (f) { return ACCEPTED.test(f.name) || /^image\//.test(f.type); });
    state.files = state.files.concat(files);
    var chosen = clear($("chosen"));
    state.files.forEach(function (f) {
      chosen.appendChild(el("li", {}, [el("span", { textContent: f.name }),
        el("span", { className: "muted", textContent: Math.max(1, Math.round(f.size / 1024)) + " KiB" })]));
    });
    $("analyse").disabled = state.files.length === 0;
    say($("upload-status"), list.length > files.length ? "skipped files that are not PNG, JPEG or TIFF" : "");
  }

  async function analyse() {
    var form = new FormData();
    state.files.forEach(function (f) { form.append("files", f, f.name); });
    $("analyse").disabled = true;
    say($("upload-status"), "Analysing " + state.files.length + " field(s)…");
    try {
      var created = await api("/analyses", { method: "POST", body: form });
      state.files = [];
      clear($("chosen"));
      say($("upload-status"), "Done.");
      state.offset = 0;
      await loadHistory();
      location.hash = "#" + created.id;
    } catch (err) {
      say($("upload-status"), err.message, true);
      $("analyse").disabled = state.files.length === 0;
    }
  }

  function setUpUpload() {
    var drop = $("drop");
    ["dragenter", "dragover"].forEach(function (kind) {
      drop.addEventListener(kind, function (e) { e.preventDefault(); drop.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (kind) {
      drop.addEventListener(kind, function (e) { e.preventDefault(); drop.classList.remove("over"); });
    });
    drop.addEventListener("drop", function (e) { if (e.dataTransfer) { chooseFiles(e.dataTransfer.files); } });
    drop.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { $("picker").click(); } });
    $("picker").addEventListener("change", function (e) { chooseFiles(e.target.files); e.target.value = ""; });
    $("analyse").addEventListener("click", analyse);
  }

  /* ---- the list of analyses ---- */

  async function loadHistory() {
    var page = await api("/analyses?limit=" + PAGE + "&offset=" + state.offset);
    state.total = page.total;
    var list = clear($("analyses"));
    page.items.forEach(function (item) {
      var link = el("a", { href: "#" + item.id, "data-id": item.id }, [
        el("span", { textContent: when(item.created) }),
        el("span", { className: "meta", textContent: " · " + item.n_files + " field(s), " + item.n_cells + " cells" })]);
      link.classList.toggle("active", item.id === state.id);
      list.appendChild(el("li", {}, [link]));
    });
    if (!page.items.length) { list.appendChild(el("li", { className: "muted", textContent: "none yet" })); }
    $("newer").disabled = state.offset === 0;
    $("older").disabled = state.offset + PAGE >= state.total;
  }

  function page(step) { state.offset = Math.max(0, state.offset + step * PAGE); loadHistory().catch(report); }

  function report(err) { say($("message"), err.message, true); }

  /* ---- one analysis ---- */

  async function open(id) {
    state.id = id;
    try {
      state.analysis = await api("/analyses/" + encodeURIComponent(id));
    } catch (err) {
      $("welcome").hidden = false;
      $("analysis").hidden = true;
      say($("upload-status"), "cannot open analysis " + id + ": " + err.message, true);
      return;
    }
    state.hidden = {};
    say($("message"), "");
    render();
    await loadAudit();
    document.querySelectorAll("#analyses a").forEach(function (a) {
      a.classList.toggle("active", a.getAttribute("data-id") === id);
    });
  }

  function render() {
    var a = state.analysis, r = a.report;
    $("welcome").hidden = true;
    $("analysis").hidden = false;
    $("title").textContent = "Film of " + when(a.created);
    $("subtitle").textContent = r.fields.length + " field(s), " + r.cells.length + " cells kept at confidence ≥ "
      + r.threshold + " · model " + (r.model.weights || r.model.name || "unknown") + " · id " + a.id;
    $("film-text").textContent = r.text;
    renderReviewNote(r);
    renderDownloads(a);
    renderDifferential(r);
    renderFlags(r);
    renderFields(a);
    renderGalleries(a);
    if (window.leukodetPatch) { window.leukodetPatch.rendered(a); }
  }

  function renderReviewNote(r) {
    var note = $("review-note"), review = r.review;
    note.hidden = !review;
    if (!review) { return; }
    note.textContent = "Reviewed by " + review.reviewers.join(", ") + ": " + review.changes + " change(s), "
      + review.reviewed_cells.length + " cell(s) reviewed, " + review.changed_cells.length
      + " changed from the model's call. Last change " + when(review.updated) + ". The model's own output is kept.";
  }

  function renderDownloads(a) {
    var nav = clear($("downloads")), links = a.links;
    [["JSON", links.report_json, "report.json"], ["CSV", links.cells_csv, "cells.csv"],
      ["HTML report", links.report_html, null], ["COCO (reviewed)", links.export_coco, "coco.zip"]]
      .forEach(function (d) {
        var link = el("a", { className: "button secondary small", href: d[1], textContent: d[0] });
        if (d[2]) { link.setAttribute("download", "leukodet-" + a.id + "-" + d[2]); } else { link.target = "_blank"; }
        nav.appendChild(link);
      });
  }

  function renderDifferential(r) {
    var d = r.differential, body = clear(document.querySelector("#differential tbody"));
    d.classes.forEach(function (row) {
      body.appendChild(el("tr", { "data-class": row["class"] }, [
        el("td", {}, [swatch(r, row["class"]), row.label || row["class"]]),
        el("td", { className: "num", textContent: String(row.count) }),
        el("td", { className: "num", textContent: pct(row.percent) }),
        el("td", { className: "num", textContent: ci(row.ci95) })]));
    });
    var foot = clear(document.querySelector("#differential tfoot"));
    foot.appendChild(el("tr", {}, [el("th", { textContent: "WBCs" }),
      el("td", { className: "num", textContent: String(d.total) }), el("td"), el("td")]));
    var apart = (d.apart || []).filter(function (x) { return x.count; }).map(function (x) {
      return x["class"] + " (" + x.role + ") " + x.count;
    });
    $("diff-summary").textContent = d.summary + (apart.length ? " · counted apart (not in the %): " + apart.join(", ") : "");
    $("smear-summary").textContent = smearText(r.smear);
  }

  /* Red cells and platelets: per-field counts and the platelet estimate (never part of the WBCs). */
  function smearText(sm) {
    if (!sm) { return ""; }
    var parts = [];
    parts.push(sm.rbc.evaluated ? "Red cells: " + sm.rbc.total + " (" + sm.rbc.mean_per_field.toFixed(1) + " per field; "
      + sm.rbc.note + ")" : "Red cells: not evaluated (no red-cell class)");
    parts.push(sm.platelets.evaluated ? "Platelets: " + sm.platelets.total + " (" + sm.platelets.mean_per_field.toFixed(1)
      + " per field; estimated " + sm.platelets.estimate_per_ul.toLocaleString("en-US") + "/µL, " + sm.platelets.note + ")"
      : "Platelets: not evaluated (no platelet class)");
    return parts.join(". ") + ".";
  }

  function fieldCounts(f) {
    var parts = [f.wbc + (f.wbc === 1 ? " WBC" : " WBCs")];
    if (f.rbc) { parts.push(f.rbc + (f.rbc === 1 ? " RBC" : " RBCs")); }
    if (f.platelets) { parts.push(f.platelets + (f.platelets === 1 ? " platelet" : " platelets")); }
    if (f.apart) { parts.push(f.apart + " counted apart"); }
    return f.cells + (f.cells === 1 ? " cell: " : " cells: ") + parts.join(", ");
  }

  function renderFlags(r) {
    var box = clear($("flags"));
    r.flags.fired.forEach(function (f) {
      box.appendChild(el("div", { className: "flag " + f.severity, "data-flag": f.id }, [
        el("strong", { textContent: f.message }), el("small", { textContent: "rule " + f.id + ": " + f.explanation })]));
    });
    if (!r.flags.fired.length) { box.appendChild(el("p", { id: "no-flags", textContent: "No rule fired." })); }
    r.flags.warnings.forEach(function (w) { box.appendChild(el("p", { className: "warning", textContent: "Warning: " + w })); });
    box.appendChild(el("p", { className: "muted", textContent: "A flag asks for expert review; it is not a diagnosis." }));
  }

  function renderFields(a) {
    var r = a.report, box = clear($("fields"));
    r.fields.forEach(function (f) {
      var overlay = svg("svg", { viewBox: "0 0 " + f.width + " " + f.height, preserveAspectRatio: "none" });
      r.cells.filter(function (c) { return c.field === f.index; }).forEach(function (c) {
        var rect = svg("rect", { x: c.box[0], y: c.box[1], width: c.box[2] - c.box[0], height: c.box[3] - c.box[1],
          stroke: classColour(r, c["class"]), "class": "box" + (c.reviewed ? " reviewed" : ""),
          "data-cell": c.id, "data-class": c["class"] });
        var title = svg("title", {});
        title.textContent = "cell " + c.id + ": " + c["class"] + " " + c.score.toFixed(2);
        rect.appendChild(title);
        rect.addEventListener("click", function () { openReview(c.id); });
        overlay.appendChild(rect);
      });
      var img = el("img", { src: a.links.field_image.replace("{n}", f.index), alt: "field " + f.image });
      var label = el("button", { type: "button", className: "button secondary small label-patch",
        "data-field": f.index, textContent: "Label patch" });
      label.addEventListener("click", function () { if (window.leukodetPatch) { window.leukodetPatch.open(f.index); } });
      box.appendChild(el("figure", { className: "field" }, [el("div", { className: "stage" }, [img, overlay]),
        el("figcaption", {}, [f.image + ": " + fieldCounts(f) + " ", label])]));
    });
    renderToggles(r);
  }

  function renderToggles(r) {
    var box = clear($("toggles")), counts = {};
    r.cells.forEach(function (c) { counts[c["class"]] = (counts[c["class"]] || 0) + 1; });
    classes(r).filter(function (name) { return counts[name]; }).forEach(function (name) {
      var input = el("input", { type: "checkbox", checked: !state.hidden[name], "data-class": name });
      input.addEventListener("change", function () { state.hidden[name] = !input.checked; applyToggles(); });
      box.appendChild(el("label", {}, [input, " ", swatch(r, name), name + " (" + counts[name] + ")"]));
    });
    applyToggles();
  }

  function applyToggles() {
    document.querySelectorAll("#fields rect.box").forEach(function (rect) {
      rect.classList.toggle("off", !!state.hidden[rect.getAttribute("data-class")]);
    });
  }

  /* The HTML report's attribute phrases (LLD attributes; others read "name value"). */
  var PHRASES = { cell_size: "{v} cell size", nuclear_chromatin: "{v} chromatin", nuclear_shape: "{v} nuclear shape",
    nucleoli: "{v} nucleoli", cytoplasm: "{v} cytoplasm", cytoplasmic_basophilia: "{v} basophilia",
    cytoplasmic_vacuoles: "vacuoles {v}" };

  function phrase(name, value) {
    return (PHRASES[name] || name.replace(/_/g, " ") + " {v}").replace("{v}", value);
  }

  function cellCard(a, c) {
    var r = a.report;
    var chips = Object.keys(c.attributes).map(function (name) {
      var call = c.attributes[name];
      var score = call.score === null ? " (set by a reviewer)" : " " + call.score.toFixed(2);
      return el("span", { className: "chip" + (call.score === null ? " edited" : ""),
        title: name.replace(/_/g, " ") + score, textContent: phrase(name, call.value) });
    });
    var badges = [];
    if (c.reviewed) { badges.push(el("span", { className: "badge", textContent: "reviewed" })); }
    if (c.model_output && c.model_output["class"] !== c["class"]) {
      badges.push(el("span", { className: "badge was", textContent: "model: " + c.model_output["class"] }));
    }
    var card = el("button", { type: "button", className: "cell", "data-cell": c.id,
      title: "cell " + c.id + " (click to review)" }, [
      el("img", { src: a.links.cell.replace("{n}", c.id), alt: c["class"] }),
      el("div", { className: "line" }, [el("span", { textContent: "#" + c.id }), el("span", { textContent: c.score.toFixed(2) })]),
      el("div", {}, badges.concat(chips))]);
    card.style.borderColor = classColour(r, c["class"]);
    card.addEventListener("click", function () { openReview(c.id); });
    return card;
  }

  function renderGalleries(a) {
    var r = a.report, box = clear($("galleries")), roleOf = {};
    r.cells.forEach(function (c) { roleOf[c["class"]] = c.role || "wbc"; });
    var rank = ROLE_GROUPS.map(function (g) { return g[0]; });
    var order = classes(r).map(function (n, i) { return [n, i]; }).sort(function (x, y) {
      return (rank.indexOf(roleOf[x[0]] || "wbc") - rank.indexOf(roleOf[y[0]] || "wbc")) || (x[1] - y[1]);
    }).map(function (x) { return x[0]; });
    order.forEach(function (name) {
      var members = r.cells.filter(function (c) { return c["class"] === name; })
        .sort(function (x, y) { return y.score - x.score; });
      if (!members.length) { return; }
      var role = roleOf[name] || "wbc", apart = role === "wbc" ? "" : " (" + role + ", not a WBC)";
      box.appendChild(el("div", { className: "group" }, [
        el("h4", {}, [swatch(r, name), name + apart + ": " + members.length]),
        el("div", { className: "gallery", "data-class": name }, members.map(function (c) { return cellCard(a, c); }))]));
    });
    if (!r.cells.length) { box.appendChild(el("p", { className: "muted", textContent: "No cell above the threshold." })); }
  }

  async function loadAudit() {
    var log = await api("/analyses/" + encodeURIComponent(state.id) + "/audit");
    var body = clear(document.querySelector("#audit tbody"));
    log.entries.slice().reverse().forEach(function (e) {
      var target = e.cell >= 0 ? "#" + e.cell : "field " + e.field.split(".")[1];
      body.appendChild(el("tr", { "data-action": e.action }, [el("td", { textContent: e.time.replace("T", " ").slice(0, 19) }),
        el("td", { textContent: e.reviewer }), el("td", { textContent: e.action }),
        el("td", { className: "num", textContent: target }),
        el("td", { textContent: e.field }), el("td", { textContent: logValue(e.before) }),
        el("td", { textContent: logValue(e.after) })]));
    });
    $("audit-empty").hidden = log.entries.length > 0;
  }

  /* A logged value as short text: a rectangle as [x1, y1, x2, y2], a patch status with its rectangle. */
  function logValue(v) {
    if (v === null || v === undefined) { return "–"; }
    if (Array.isArray(v)) { return "[" + v.map(function (x) { return typeof x === "number" ? Math.round(x) : x; }).join(", ") + "]"; }
    if (typeof v === "object") {
      if (v.status) { return v.status + " " + logValue(v.region); }
      if (v.box) { return v["class"] + " " + logValue(v.box); }
      return JSON.stringify(v);
    }
    return String(v);
  }

  async function reload() {
    state.analysis = await api("/analyses/" + encodeURIComponent(state.id));
    render();
    await loadAudit();
  }

  /* ---- review ---- */

  function option(value, label, selected) {
    return el("option", { value: value, textContent: label, selected: selected });
  }

  function openReview(id) {
    var a = state.analysis, r = a.report, c = r.cells[id], model = c.model_output;
    state.cell = id;
    $("rv-crop").src = a.links.cell.replace("{n}", id);
    $("rv-title").textContent = "Cell #" + id + " · " + r.fields[c.field].image;
    $("rv-model").textContent = "model: " + (model ? model["class"] : c["class"]) + " (score " + c.score.toFixed(2)
      + ")" + (c.reviewed ? " · reviewed" : "");
    var select = clear($("rv-class"));
    var roles = r.model.roles && r.model.roles.length === r.model.classes.length ? r.model.roles : null;
    ROLE_GROUPS.forEach(function (group) {
      var names = r.model.classes.filter(function (name, i) { return (roles ? roles[i] : "wbc") === group[0]; });
      if (!names.length) { return; }
      var box = el("optgroup", { label: group[1] });
      box.setAttribute("data-role", group[0]);
      names.forEach(function (name) { box.appendChild(option(name, name, name === c["class"])); });
      select.appendChild(box);
    });
    if (r.model.classes.indexOf(c["class"]) < 0) { select.appendChild(option(c["class"], c["class"], true)); }
    select.parentNode.classList.remove("edited");
    select.onchange = function () { select.parentNode.classList.toggle("edited", select.value !== c["class"]); };
    var attrs = clear($("rv-attrs"));
    Object.keys(r.model.attributes).forEach(function (name) {
      var current = c.attributes[name] ? c.attributes[name].value : "";
      var pick = el("select", { "data-attribute": name, "data-current": current });
      if (!current) { pick.appendChild(option("", "–", true)); }
      r.model.attributes[name].forEach(function (v) { pick.appendChild(option(v, v, v === current)); });
      var row = el("label", { className: "rv-row" }, [name.replace(/_/g, " "), pick]);
      pick.addEventListener("change", function () { row.classList.toggle("edited", pick.value !== current); });
      attrs.appendChild(row);
    });
    say($("rv-error"), "");
    document.querySelectorAll("#fields rect.box").forEach(function (rect) {
      rect.classList.toggle("focus", rect.getAttribute("data-cell") === String(id));
    });
    $("review-dialog").showModal();
  }

  function edits() {
    var c = state.analysis.report.cells[state.cell], changes = [];
    if ($("rv-class").value !== c["class"]) {
      changes.push({ action: "reclassify", cell: c.id, "class": $("rv-class").value });
    }
    document.querySelectorAll("#rv-attrs select").forEach(function (pick) {
      if (pick.value && pick.value !== pick.getAttribute("data-current")) {
        changes.push({ action: "attribute", cell: c.id, attribute: pick.getAttribute("data-attribute"), value: pick.value });
      }
    });
    return changes;
  }

  async function submit(changes) {
    var reviewer = $("reviewer").value.trim();
    if (!reviewer) {
      $("reviewer").classList.add("missing");
      say($("rv-error"), "Enter your name as reviewer (top right) first.", true);
      return;
    }
    if (!changes.length) { say($("rv-error"), "Nothing changed. Use “Confirm as is” to mark the cell reviewed.", true); return; }
    try {
      var body = JSON.stringify({ reviewer: reviewer, changes: changes });
      state.analysis = await api("/analyses/" + encodeURIComponent(state.id) + "/review",
        { method: "POST", headers: { "Content-Type": "application/json" }, body: body });
    } catch (err) {
      say($("rv-error"), err.message, true);
      return;
    }
    $("review-dialog").close();
    render();
    await loadAudit();
    say($("message"), "Saved " + changes.length + " change(s) to cell #" + changes[0].cell
      + ": differential, flags and film text recomputed.");
  }

  function setUpReview() {
    var cell = function () { return state.cell; };
    $("rv-save").addEventListener("click", function () { submit(edits()); });
    $("rv-confirm").addEventListener("click", function () { submit([{ action: "confirm", cell: cell() }]); });
    $("rv-notwbc").addEventListener("click", function () { submit([{ action: "not_wbc", cell: cell() }]); });
    $("rv-cancel").addEventListener("click", function () { $("review-dialog").close(); });
    $("review-dialog").addEventListener("close", function () {
      document.querySelectorAll("#fields rect.focus").forEach(function (r) { r.classList.remove("focus"); });
    });
    var name = $("reviewer");
    try { name.value = localStorage.getItem("leukodet.reviewer") || ""; } catch (e) { /* storage disabled */ }
    name.addEventListener("input", function () {
      name.classList.remove("missing");
      try { localStorage.setItem("leukodet.reviewer", name.value); } catch (e) { /* storage disabled */ }
    });
  }

  /* ---- start ---- */

  function route() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (/^[A-Za-z0-9_-]{8,64}$/.test(id)) { open(id).catch(report); }
  }

  /* What patch.js (patch labelling) uses of this page. */
  window.leukodetPage = { api: api, el: el, svg: svg, clear: clear, say: say, state: state, reload: reload,
    classColour: classColour, groups: ROLE_GROUPS };

  document.addEventListener("DOMContentLoaded", function () {
    if (token()) { keepToken(token()); }
    setUpUpload();
    setUpReview();
    $("newer").addEventListener("click", function () { page(-1); });
    $("older").addEventListener("click", function () { page(1); });
    window.addEventListener("hashchange", route);
    loadHistory().catch(report);
    route();
  });
})();
