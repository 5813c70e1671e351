// smsbridge account page: small progressive enhancements; every page works without them.
"use strict";
(function () {
  // Live segment count and cost while typing (GET <base>/segments).
  document.querySelectorAll("[data-segments-form]").forEach(function (form) {
    var text = form.querySelector("[data-segments-text]"), to = form.querySelector("[data-segments-to]");
    var smart = form.querySelector("[data-segments-smart]"), out = form.querySelector("[data-segments-output]");
    var note = form.querySelector("[data-segments-note]"), timer = 0, base = form.action.split("/numbers/")[0];
    function update() {
      var q = new URLSearchParams({ text: text.value, to: to ? to.value : "", smart: smart && smart.checked ? "on" : "" });
      fetch(base + "/segments?" + q, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) { if (d) { out.textContent = d.summary; note.textContent = d.note; } }).catch(function () {});
    }
    function later() { clearTimeout(timer); timer = setTimeout(update, 200); }
    [text, to, smart].forEach(function (el) { if (el) { el.addEventListener("input", later); el.addEventListener("change", later); } });
    if (text.value) { update(); }
  });
  // New messages and status changes appear without a reload.
  var thread = document.querySelector("[data-poll]");
  if (thread) {
    var status = document.querySelector("[data-poll-status]"), every = (+thread.dataset.pollSeconds || 3) * 1000;
    setInterval(function () {
      if (document.hidden) { return; }
      fetch(thread.dataset.poll, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (d) {
          if (!d || d.version === thread.dataset.version) { return; }
          thread.dataset.version = d.version; thread.innerHTML = d.html;
          if (status) { status.textContent = "Conversation updated: " + d.count + " messages."; }
        }).catch(function () {});
    }, every);
  }
  // Copy a freshly created API key.
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = document.querySelector(button.dataset.copy);
      field.select();
      (navigator.clipboard ? navigator.clipboard.writeText(field.value) : Promise.reject()).then(
        function () { button.textContent = "Copied"; }, function () { document.execCommand("copy"); button.textContent = "Copied"; });
    });
  });
})();
