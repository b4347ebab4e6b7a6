// A new site's time zone: the browser's own, when the list has it and nobody chose another
// (the server's default, UTC, stays without this script).
(function () {
  "use strict";
  var form = document.getElementById("add-site");
  if (!form || form.querySelector(".alert-danger") || !window.Intl) return;
  var select = form.querySelector("select[name=timezone]");
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!select || select.value !== "UTC" || !zone) return;
  for (var i = 0; i < select.options.length; i++) {
    if (select.options[i].value === zone) {
      select.value = zone;
      return;
    }
  }
})();
