// Progressive enhancement for the state admin's dashboard: without this script the page shows
// the figures of the moment it was loaded. With it, the live panels are fetched again every
// 30 seconds (HTML the server renders from the same templates) and swapped in place, with a
// button to pause. Polling stops after the staff idle time without a key press or a click, so
// an unattended dashboard does not keep its session alive.
(function () {
  "use strict";
  var root = document.getElementById("dashboard-live");
  if (!root || !window.fetch) { return; }
  var EVERY_MS = 30000;
  var idleMs = (parseInt(root.getAttribute("data-idle-seconds"), 10) || 1800) * 1000;
  var lastActivity = Date.now();
  var paused = false;
  var timer = null;

  var controls = document.createElement("div");
  controls.className = "admin-live-controls";
  var button = document.createElement("button");
  button.type = "button";
  button.className = "button button--secondary";
  button.textContent = root.getAttribute("data-pause-label");
  var note = document.createElement("p");
  note.className = "admin-muted";
  note.hidden = true;
  note.setAttribute("role", "status");
  controls.appendChild(button);
  controls.appendChild(note);
  root.insertBefore(controls, root.firstChild);

  ["keydown", "pointerdown", "wheel"].forEach(function (name) {
    document.addEventListener(name, function () { lastActivity = Date.now(); }, { passive: true });
  });

  function swap(name, html) {
    var panel = root.querySelector('[data-panel="' + name + '"]');
    // Leave a panel alone while the reader is in it (a focused link, an open table).
    if (!panel || panel.contains(document.activeElement)) { return; }
    var open = [];
    panel.querySelectorAll("details[open]").forEach(function (d, i) { open.push(i); });
    panel.innerHTML = html;
    var details = panel.querySelectorAll("details");
    open.forEach(function (i) { if (details[i]) { details[i].open = true; } });
  }

  function schedule() {
    window.clearTimeout(timer);
    if (!paused) { timer = window.setTimeout(refresh, EVERY_MS); }
  }

  function stop(label) {
    note.textContent = root.getAttribute(label);
    note.hidden = false;
    button.hidden = true;
  }

  function refresh() {
    if (Date.now() - lastActivity > idleMs) {
      stop("data-stopped-label");
      return;
    }
    fetch(root.getAttribute("data-live-url"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (body) {
        Object.keys(body.panels).forEach(function (name) { swap(name, body.panels[name]); });
        schedule();
      })
      .catch(function () {
        // Signed out, or the server is unreachable: the page keeps its figures and stops asking.
        stop("data-failed-label");
      });
  }

  button.addEventListener("click", function () {
    paused = !paused;
    button.textContent = root.getAttribute(paused ? "data-resume-label" : "data-pause-label");
    if (paused) { window.clearTimeout(timer); } else { refresh(); }
  });
  schedule();
}());
