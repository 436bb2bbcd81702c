// Progressive enhancement for the waiting room: without this script the page refreshes itself
// (a meta refresh inside <noscript>). With it, the figures update in place and changes are announced politely to
// screen-reader users; the server says when to ask next.
(function () {
  "use strict";
  var root = document.getElementById("waiting-room");
  if (!root || !window.fetch) { return; }
  var announcer = document.getElementById("waiting-announcer");
  var lastPosition = null;
  // Numbers grouped as the page's language writes them ("294,597"; "294.597" in Portuguese).
  var digits = window.Intl ? new Intl.NumberFormat(document.documentElement.lang || "en") : null;
  function grouped(value) {
    return typeof value === "number" && digits ? digits.format(value) : value;
  }
  function set(field, text) {
    var el = root.querySelector('[data-field="' + field + '"]');
    if (el && text !== null && text !== undefined) { el.textContent = String(grouped(text)); }
  }
  function minutes(seconds) {
    if (seconds === null || seconds === undefined) { return null; }
    return seconds < 60 ? root.getAttribute("data-soon-text")
      : root.getAttribute("data-minute-template").replace("%d", Math.ceil(seconds / 60));
  }
  function poll(afterSeconds) {
    window.setTimeout(function () {
      fetch(root.getAttribute("data-status-url"), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.state === "unavailable") {  // Redis briefly down: keep the figures, ask later
            poll(s.poll_after_seconds || 15);
            return;
          }
          var soldOutShown = root.getAttribute("data-sold-out") === "1";
          if (s.state === "admitted" || s.state === "lapsed" || (s.sold_out && !soldOutShown)) {
            window.location.reload();  // the page itself says what to do next
            return;
          }
          set("position", s.position);
          set("ahead", s.ahead);
          set("eta", minutes(s.eta_seconds));
          set("remaining", s.remaining_appointments);
          if (s.position !== null && s.position !== lastPosition) {
            lastPosition = s.position;
            announcer.textContent =
              root.getAttribute("data-position-template").replace("%d", grouped(s.position));
          }
          poll(s.poll_after_seconds || 15);
        })
        .catch(function () { poll(15); });
    }, afterSeconds * 1000);
  }
  poll(Number(root.getAttribute("data-poll-after")) || 5);
}());
