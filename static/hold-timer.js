// Progressive enhancement for the hold countdown: the page already says until when the time is
// held; this shows minutes left and tells screen-reader users once a minute, and at 1 minute.
(function () {
  "use strict";
  var timer = document.getElementById("hold-timer");
  var announcer = document.getElementById("hold-announcer");
  if (!timer || !announcer) { return; }
  var deadline = Date.now() + Number(timer.getAttribute("data-expires-in")) * 1000;
  var display = timer.querySelector(".countdown");
  var lastMinute = null;
  function tick() {
    var left = Math.max(0, Math.round((deadline - Date.now()) / 1000));
    var minutes = Math.floor(left / 60);
    var seconds = left % 60;
    display.textContent = "(" + minutes + ":" + (seconds < 10 ? "0" : "") + seconds + ")";
    var wholeMinutes = Math.ceil(left / 60);
    if (wholeMinutes !== lastMinute && (wholeMinutes <= 2 || wholeMinutes % 5 === 0)) {
      lastMinute = wholeMinutes;
      announcer.textContent = left > 0
        ? timer.getAttribute("data-left-template").replace("%d", wholeMinutes)
        : timer.getAttribute("data-expired-text");
    }
    if (left > 0) { window.setTimeout(tick, 1000); }
  }
  tick();
}());
