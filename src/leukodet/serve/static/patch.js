/* leukodet web page: patch labelling of one field (a sparse training set's labelled region). Uses app.js's
   helpers (window.leukodetPage); every value from the service is put into the page as text. API and
   shortcuts: docs/service.md, "Patch labelling". */
(function () {
  "use strict";

  var page = null;
  var P = { field: null, data: null, selected: null, mode: "idle", pending: null, drag: null, summaryFor: null };
  var HANDLE = 9;   /* corner handle size in screen pixels */
  var MIN_SIDE = 3; /* smallest box or patch side a drag makes, in image pixels */

  function $(id) { return document.getElementById(id); }
  function base() { return "/analyses/" + encodeURIComponent(page.state.id); }

  function reviewer() {
    var name = $("reviewer").value.trim();
    if (!name) {
      $("reviewer").classList.add("missing");
      throw new Error("Enter your name as reviewer (top right) first.");
    }
    return name;
  }

  /* ---- the class menu: WBC classes first (keys 1-9 pick the first nine), then the others ---- */

  function classOrder(report) {
    var m = report.model, roles = m.roles && m.roles.length === m.classes.length ? m.roles : null, out = [];
    page.groups.forEach(function (g) {
      m.classes.forEach(function (name, i) { if ((roles ? roles[i] : "wbc") === g[0]) { out.push(name); } });
    });
    m.classes.forEach(function (name) { if (out.indexOf(name) < 0) { out.push(name); } });
    return out;
  }

  function fillClasses(report) {
    var keep = $("pl-class").value, select = page.clear($("pl-class"));
    classOrder(report).forEach(function (name, i) {
      var label = (i < 9 ? (i + 1) + " · " : "") + name;
      select.appendChild(page.el("option", { value: name, textContent: label, selected: name === keep }));
    });
  }

  function classByKey(digit) {
    var options = $("pl-class").options;
    return digit >= 1 && digit <= options.length ? options[digit - 1].value : null;
  }

  /* ---- drawing ---- */

  function rectAttrs(b) { return { x: b[0], y: b[1], width: Math.max(0, b[2] - b[0]), height: Math.max(0, b[3] - b[1]) }; }

  function scale() {
    var r = $("pl-svg").getBoundingClientRect();
    return r.width > 0 ? P.data.width / r.width : 1;
  }

  function box(id) {
    return (P.data ? P.data.boxes : []).filter(function (b) { return b.id === id; })[0] || null;
  }

  function render() {
    var d = P.data, overlay = page.clear($("pl-svg")), region = d.patch.region, report = page.state.analysis.report;
    overlay.setAttribute("viewBox", "0 0 " + d.width + " " + d.height);
    overlay.setAttribute("preserveAspectRatio", "none");
    var W = d.width, H = d.height, r = region;
    overlay.appendChild(page.svg("path", { "class": "shade", "fill-rule": "evenodd",
      d: "M0 0H" + W + "V" + H + "H0Z M" + r[0] + " " + r[1] + "V" + r[3] + "H" + r[2] + "V" + r[1] + "Z" }));
    overlay.appendChild(page.svg("rect", Object.assign(rectAttrs(region), { "class": "patch" + (d.patch.complete ? " complete" : ""),
      "data-region": region.join(","), "data-origin": d.patch.origin })));
    d.boxes.forEach(function (b) {
      var kinds = ["plbox", b.source];
      if (b.rejected) { kinds.push("rejected"); }
      if (b.resized) { kinds.push("resized"); }
      if (b.reviewed) { kinds.push("reviewed"); }
      if (!b.in_patch) { kinds.push("outside"); }
      if (b.id === P.selected) { kinds.push("selected"); }
      var rect = page.svg("rect", Object.assign(rectAttrs(b.box), { "class": kinds.join(" "), "data-id": b.id,
        "data-class": b["class"], "data-box": b.box.join(","), stroke: page.classColour(report, b["class"]) }));
      var title = page.svg("title", {});
      title.textContent = "#" + b.id + " " + b["class"] + (b.rejected ? " (rejected)" : "");
      rect.appendChild(title);
      overlay.appendChild(rect);
    });
    var chosen = box(P.selected);
    if (chosen && !d.patch.complete) {
      var s = HANDLE * scale(), b = chosen.box;
      [["nw", b[0], b[1]], ["ne", b[2], b[1]], ["sw", b[0], b[3]], ["se", b[2], b[3]]].forEach(function (h) {
        overlay.appendChild(page.svg("rect", { "class": "handle", "data-corner": h[0], x: h[1] - s / 2, y: h[2] - s / 2,
          width: s, height: s }));
      });
    }
    if (P.pending) { overlay.appendChild(page.svg("rect", Object.assign(rectAttrs(P.pending), { "class": "draft pending" }))); }
    renderSide();
  }

  function renderSide() {
    var d = P.data, chosen = box(P.selected), done = d.patch.complete, inside = d.boxes.filter(function (b) { return b.in_patch; });
    $("patch-section").setAttribute("data-complete", done ? "true" : "false");
    $("pl-title").textContent = "· field " + d.field + ": " + d.image;
    var where = d.patch.origin === "proposed" ? "proposed (score " + d.proposal.score + ", " + Math.round(d.proposal.fraction * 100)
      + "% of the field)" : d.patch.origin + " by hand";
    var status = done ? "Complete: labelled by " + d.completed.reviewer + ". Undo (Ctrl+Z) reopens it."
      : "Patch " + where + " · " + inside.length + " box(es) inside.";
    if (P.mode === "newbox") { status = "New box: drag it on the image."; }
    if (P.mode === "redraw") { status = "Redraw the patch: drag it on the image."; }
    if (P.pending) { status = "New box drawn: press 1–9, or choose a class and Add box (Enter)."; }
    page.say($("pl-status"), status);
    $("pl-selected").textContent = chosen ? "#" + chosen.id + " " + chosen["class"] + (chosen.source === "model"
      ? " · model: " + chosen.model_class + " " + chosen.score.toFixed(2) : " · added") + (chosen.rejected ? " · rejected" : "")
      + (chosen.reviewed ? " · reviewed" : "") + (chosen.resized ? " · resized" : "") : "No box selected: click one.";
    $("pl-add").disabled = !P.pending;
    ["pl-new", "pl-redraw", "pl-complete"].forEach(function (id) { $(id).disabled = done; });
    ["pl-confirm", "pl-reclassify", "pl-reject"].forEach(function (id) { $(id).disabled = done || !chosen; });
    $("pl-undo").disabled = !d.can_undo;
  }

  /* ---- the service ---- */

  /* Actions go to the service one at a time, in the order they were made (none is dropped while another is
     on its way); data-busy on the section says whether any is pending. */
  var queue = Promise.resolve(), pending = 0;

  function send(method, path, body) {
    var name;
    try { name = reviewer(); } catch (err) { page.say($("pl-status"), err.message, true); return queue; }
    var field = P.field;
    pending += 1;
    $("patch-section").setAttribute("data-busy", "true");
    queue = queue.then(function () { return post(field, method, path, Object.assign({ reviewer: name }, body || {})); })
      .finally(function () {
        pending -= 1;
        if (!pending) { $("patch-section").setAttribute("data-busy", "false"); }
      });
    return queue;
  }

  async function post(field, method, path, body) {
    try {
      var state = await page.api(base() + "/fields/" + field + path, { method: method,
        headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      if (field !== P.field) { return; }
      P.data = state;
      if (P.selected !== null && !box(P.selected)) { P.selected = null; }
      render();
      await page.reload();
    } catch (err) {
      page.say($("pl-status"), err.message, true);
    }
  }

  function act(action, extra) {
    if (P.selected === null) { page.say($("pl-status"), "Select a box first (click it, or Space).", true); return; }
    send("POST", "/boxes/" + P.selected, Object.assign({ action: action }, extra || {}));
  }

  function addPending(name) {
    if (!P.pending) { return; }
    var drawn = P.pending;
    P.pending = null;
    P.mode = "idle";
    send("POST", "/boxes", { box: drawn, "class": name || $("pl-class").value });
  }

  async function summary() {
    var s = await page.api(base() + "/export/summary");
    $("export-stats").textContent = s.fields_complete + " of " + s.fields + " field(s) with a complete patch · "
      + s.images + " image(s), " + s.regions + " labelled region(s), " + s.boxes + " box(es) · labelled area "
      + (s.labelled_area_share * 100).toFixed(1) + "% of the exported images";
    var body = page.clear(document.querySelector("#export-classes tbody"));
    Object.keys(s.boxes_per_class).forEach(function (name) {
      body.appendChild(page.el("tr", { "data-class": name }, [page.el("td", { textContent: name }),
        page.el("td", { className: "num", textContent: String(s.boxes_per_class[name]) })]));
    });
    $("export-command").textContent = s.command;
  }

  /* ---- pointer: move or redraw the patch, draw a box, resize a box, select ---- */

  function point(e) {
    var r = $("pl-svg").getBoundingClientRect(), d = P.data;
    var x = (e.clientX - r.left) * d.width / r.width, y = (e.clientY - r.top) * d.height / r.height;
    return [Math.min(d.width, Math.max(0, x)), Math.min(d.height, Math.max(0, y))];
  }

  function span(a, b) {
    return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[0], b[0]), Math.max(a[1], b[1])];
  }

  function shifted(region, dx, dy) {
    var w = region[2] - region[0], h = region[3] - region[1];
    var x = Math.min(P.data.width - w, Math.max(0, region[0] + dx)), y = Math.min(P.data.height - h, Math.max(0, region[1] + dy));
    return [Math.round(x), Math.round(y), Math.round(x) + w, Math.round(y) + h];
  }

  function cornerBox(b, corner, p) {
    var fixed = [corner.indexOf("w") >= 0 ? b[2] : b[0], corner.indexOf("n") >= 0 ? b[3] : b[1]];
    return span(fixed, p);
  }

  function draft(b) {
    var node = $("pl-svg").querySelector("rect.draft:not(.pending)");
    if (!node) { node = page.svg("rect", { "class": "draft" }); $("pl-svg").appendChild(node); }
    Object.entries(rectAttrs(b)).forEach(function (kv) { node.setAttribute(kv[0], kv[1]); });
  }

  function down(e) {
    if (!P.data || e.button !== 0) { return; }
    var t = e.target, p = point(e), done = P.data.patch.complete, cls = t.getAttribute("class") || "";
    if (P.mode === "newbox" || P.mode === "redraw") { P.drag = { kind: "draw", start: p, now: span(p, p) }; }
    else if (/\bhandle\b/.test(cls)) { P.drag = { kind: "resize", corner: t.getAttribute("data-corner"), now: box(P.selected).box }; }
    else if (/\bplbox\b/.test(cls)) { P.selected = Number(t.getAttribute("data-id")); render(); return; }
    else if (/\bpatch\b/.test(cls) && !done) { P.drag = { kind: "move", start: p, now: P.data.patch.region.slice() }; }
    else { if (P.selected !== null) { P.selected = null; render(); } return; }
    $("pl-svg").setPointerCapture(e.pointerId);
    e.preventDefault();
  }

  function move(e) {
    if (!P.drag) { return; }
    var p = point(e), g = P.drag;
    if (g.kind === "draw") { g.now = span(g.start, p); }
    else if (g.kind === "resize") { g.now = cornerBox(box(P.selected).box, g.corner, p); }
    else { g.now = shifted(P.data.patch.region, p[0] - g.start[0], p[1] - g.start[1]); }
    draft(g.now);
  }

  function up(e) {
    var g = P.drag;
    if (!g) { return; }
    P.drag = null;
    var b = g.now, big = b[2] - b[0] >= MIN_SIDE && b[3] - b[1] >= MIN_SIDE;
    if (g.kind === "draw" && P.mode === "newbox" && big) { P.pending = b; render(); return; }
    if (g.kind === "draw" && P.mode === "redraw" && big) {
      P.mode = "idle";
      send("PUT", "/patch", { region: b.map(Math.round), how: "draw" });
      return;
    }
    if (g.kind === "resize" && big) { act("resize", { box: b }); return; }
    if (g.kind === "move" && b.join() !== P.data.patch.region.join()) { send("PUT", "/patch", { region: b, how: "move" }); return; }
    render();
  }

  /* ---- keys ---- */

  function nextBox() {
    var inside = P.data.boxes.filter(function (b) { return b.in_patch; });
    if (!inside.length) { return; }
    var at = inside.map(function (b) { return b.id; }).indexOf(P.selected);
    P.selected = inside[(at + 1) % inside.length].id;
    render();
  }

  function key(e) {
    if (P.field === null || $("patch-section").hidden || $("review-dialog").open) { return; }
    var tag = e.target && e.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA") { return; }
    var k = e.key, handled = true;
    if ((e.ctrlKey || e.metaKey) && (k === "z" || k === "Z")) { send("POST", "/undo", {}); }
    else if (e.ctrlKey || e.metaKey || e.altKey) { handled = false; }
    else if (k === "c") { act("confirm"); }
    else if (k === "x") { act("reject"); }
    else if (/^[1-9]$/.test(k)) { digit(Number(k)); }
    else if (k === "n") { setMode("newbox"); }
    else if (k === "p") { setMode("redraw"); }
    else if (k === " ") { nextBox(); }
    else if (k === "Enter") { if (P.pending) { addPending(); } else { complete(); } }
    else if (k === "Escape") { P.mode = "idle"; P.pending = null; P.selected = null; render(); }
    else { handled = false; }
    if (handled) { e.preventDefault(); }
  }

  function digit(n) {
    var name = classByKey(n);
    if (!name) { return; }
    $("pl-class").value = name;
    if (P.pending) { addPending(name); }
    else if (P.selected !== null) { act("reclassify", { "class": name }); }
  }

  function setMode(mode) {
    if (P.data.patch.complete) { return; }
    P.mode = mode;
    P.pending = null;
    render();
  }

  function complete() { if (!P.data.patch.complete) { send("POST", "/patch/complete", {}); } }

  /* ---- open and close ---- */

  async function open(index) {
    P.field = index;
    P.selected = null;
    P.pending = null;
    P.mode = "idle";
    var a = page.state.analysis;
    try {
      P.data = await page.api(base() + "/fields/" + index + "/patch");
    } catch (err) {
      page.say($("message"), err.message, true);
      return;
    }
    fillClasses(a.report);
    var img = $("pl-image");
    img.src = a.links.field_image.replace("{n}", index);
    $("patch-section").hidden = false;
    $("patch-section").setAttribute("data-field", String(index));
    render();
    $("patch-section").scrollIntoView({ block: "start" });
  }

  function close() {
    P.field = null;
    P.data = null;
    $("patch-section").hidden = true;
    $("patch-section").removeAttribute("data-field");
  }

  /* app.js calls this after every render of an analysis: the export summary, and the editor of another
     analysis closed. */
  function rendered(a) {
    if (P.summaryFor !== null && P.summaryFor !== a.id) { close(); }
    P.summaryFor = a.id;
    fillClasses(a.report);
    summary().catch(function (err) { page.say($("export-stats"), err.message, true); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    page = window.leukodetPage;
    var overlay = $("pl-svg");
    overlay.addEventListener("pointerdown", down);
    overlay.addEventListener("pointermove", move);
    overlay.addEventListener("pointerup", up);
    overlay.addEventListener("pointercancel", function () { P.drag = null; if (P.data) { render(); } });
    document.addEventListener("keydown", key);
    $("pl-add").addEventListener("click", function () { addPending(); });
    $("pl-new").addEventListener("click", function () { setMode("newbox"); });
    $("pl-redraw").addEventListener("click", function () { setMode("redraw"); });
    $("pl-confirm").addEventListener("click", function () { act("confirm"); });
    $("pl-reclassify").addEventListener("click", function () { act("reclassify", { "class": $("pl-class").value }); });
    $("pl-reject").addEventListener("click", function () { act("reject"); });
    $("pl-undo").addEventListener("click", function () { send("POST", "/undo", {}); });
    $("pl-complete").addEventListener("click", complete);
    $("pl-close").addEventListener("click", close);
    window.addEventListener("resize", function () { if (P.data) { render(); } });
  });

  window.leukodetPatch = { open: open, rendered: rendered };
})();
