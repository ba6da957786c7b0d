// Behaviour of the student pages (/me/), in a file of its own rather than inline: the
// Content-Security-Policy runs only our own script files. Every page works without it.
(function () {
  "use strict";

  // The leaderboard's course picker shows the chosen board at once (the button is in <noscript>).
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select.matches && select.matches("select[data-autosubmit]") && select.form) {
      select.form.submit();
    }
  });
})();
