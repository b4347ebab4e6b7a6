// The dashboard's progressive enhancements; without this script the page works as it is
// (every list shown, a "Show" button, a reload for fresh numbers).
(function () {
  "use strict";
  var doc = document;
  doc.documentElement.classList.add("js");

  // Tabs: the lists of each group (pages / entry / exit ...) one at a time.
  doc.querySelectorAll(".panel-group").forEach(function (group, g) {
    var panels = Array.prototype.slice.call(group.querySelectorAll(".panel"));
    if (panels.length < 2) return;
    var list = doc.createElement("div");
    list.className = "tabs";
    list.setAttribute("role", "tablist");
    list.setAttribute("aria-labelledby", group.getAttribute("aria-labelledby"));
    var tabs = panels.map(function (panel, i) {
      var tab = doc.createElement("button");
      tab.type = "button";
      tab.id = "tab-" + panel.id;
      tab.textContent = panel.getAttribute("data-label");
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", panel.id);
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
      list.appendChild(tab);
      tab.addEventListener("click", function () { select(i, false); });
      return tab;
    });
    function select(index, focus) {
      tabs.forEach(function (tab, i) {
        tab.setAttribute("aria-selected", String(i === index));
        tab.tabIndex = i === index ? 0 : -1;
        panels[i].hidden = i !== index;
      });
      if (focus) tabs[index].focus();
    }
    list.addEventListener("keydown", function (event) {
      var current = tabs.indexOf(doc.activeElement);
      if (current < 0) return;
      var next = {ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: tabs.length - 1}[event.key];
      if (next === undefined) return;
      event.preventDefault();
      select((next + tabs.length) % tabs.length, true);
    });
    panels[0].parentNode.insertBefore(list, panels[0]);
    select(0, false);
  });

  // The period: picking one in the list shows it; a custom range shows its dates first.
  var form = doc.getElementById("period-form");
  if (form) {
    var period = form.querySelector("#period");
    var range = form.querySelector(".period-range");
    var button = range.querySelector("button");
    var invalid = form.querySelector(".is-invalid");
    function showRange(custom) {
      range.classList.toggle("auto-hidden", !custom && !invalid);
    }
    showRange(period.value === "custom");
    period.addEventListener("change", function () {
      if (period.value === "custom") {
        showRange(true);
        form.querySelector("#from").focus();
        return;
      }
      form.querySelectorAll("#from, #to").forEach(function (input) { input.disabled = true; });
      form.submit();
    });
    button.textContent = "Show range";
  }

  // Copy buttons.
  doc.querySelectorAll("button[data-copy]").forEach(function (copy) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var text = doc.getElementById(copy.getAttribute("data-copy")).textContent;
      navigator.clipboard.writeText(text).then(function () {
        copy.textContent = "Copied";
        setTimeout(function () { copy.textContent = "Copy"; }, 2000);
      }, function () {
        copy.textContent = "Select and copy";
      });
    });
  });

  // Live numbers: "Now" and the chart every 30 s while the tab is visible; a site without
  // visits is watched every 5 s for its first hit (nothing is fetched from the site itself).
  var box = doc.getElementById("chart-box");
  if (!box || !window.fetch) return;
  var setup = doc.getElementById("setup");
  var status = doc.getElementById("install-status");
  var ignoredAtLoad = Number(box.getAttribute("data-ignored") || 0);
  var every = setup ? 5000 : 30000;
  var timer = null;
  function refresh() {
    fetch(box.getAttribute("data-live"), {credentials: "same-origin", headers: {Accept: "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (live) {
        if (!live) return;
        if (setup && (live.has_data || live.ignored > ignoredAtLoad)) {
          status.textContent = live.has_data ? "The first hit has arrived: loading the numbers…"
            : "A hit arrived but was ignored: loading why…";
          window.location.reload();
          return;
        }
        doc.getElementById("realtime").textContent = live.now.toLocaleString("en-US");
        var open = box.querySelector("details[open]") !== null;
        box.innerHTML = live.chart;
        if (open) box.querySelector("details").open = true;
      })
      .catch(function () {});
  }
  function schedule() {
    clearInterval(timer);
    timer = null;
    if (doc.visibilityState === "visible") timer = setInterval(refresh, every);
  }
  doc.addEventListener("visibilitychange", function () {
    if (doc.visibilityState === "visible") refresh();
    schedule();
  });
  schedule();
  var check = doc.getElementById("check-install");
  if (check) {
    check.addEventListener("click", function (event) {
      event.preventDefault();
      status.firstChild.textContent = "Watching for the first hit… open a page of your site in another tab. ";
      refresh();
    });
  }
})();
