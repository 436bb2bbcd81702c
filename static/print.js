// The confirmation's "Print this page" button: shown only where a script can print (without
// JavaScript the browser's own Print works, and the page has a print layout either way).
(function () {
  "use strict";
  var buttons = document.querySelectorAll("[data-print]");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function () { window.print(); });
  }
}());
