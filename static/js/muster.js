/* Muster: small progressive enhancements. Every page works without this file. */
(function () {
  "use strict";

  function relative(date) {
    var seconds = (Date.now() - date.getTime()) / 1000;
    var future = seconds < 0;
    seconds = Math.abs(seconds);
    var text;
    if (seconds < 45) return "just now";
    if (seconds < 3600) text = Math.max(1, Math.round(seconds / 60)) + " min";
    else if (seconds < 86400) text = Math.floor(seconds / 3600) + " h";
    else if (seconds < 7 * 86400) {
      var days = Math.floor(seconds / 86400);
      if (days === 1 && !future) return "yesterday";
      text = days + " d";
    } else return null; // older: keep the server's date
    return future ? "in " + text : text + " ago";
  }

  function refreshTimes(root) {
    (root || document).querySelectorAll("time.reltime[datetime]").forEach(function (el) {
      var date = new Date(el.getAttribute("datetime"));
      if (isNaN(date)) return;
      var text = relative(date);
      if (text && el.textContent !== text) el.textContent = text;
    });
  }

  function setupToasts(root) {
    (root || document).querySelectorAll("[data-toast]").forEach(function (toast) {
      if (toast.dataset.ready) return;
      toast.dataset.ready = "1";
      var close = toast.querySelector("[data-dismiss]");
      if (close) close.addEventListener("click", function () { toast.remove(); });
      if (!toast.classList.contains("toast-error")) {
        setTimeout(function () {
          toast.classList.add("toast-leaving");
          setTimeout(function () { toast.remove(); }, 300);
        }, 6000);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector("[data-nav-toggle]");
    var bar = document.querySelector("[data-nav]");
    if (toggle && bar) {
      toggle.addEventListener("click", function () {
        var open = bar.classList.toggle("nav-open");
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
      });
    }
    setupToasts();
    refreshTimes();
    setInterval(refreshTimes, 30000);
  });

  // Close dropdown <details> on a click outside or Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details[data-close-outside][open]").forEach(function (d) {
      if (!d.contains(event.target)) d.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll("details[data-close-outside][open]").forEach(function (d) {
        d.removeAttribute("open");
        var s = d.querySelector("summary");
        if (s) s.focus();
      });
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      var area = event.target.closest && event.target.closest("textarea[data-submit-on-ctrl-enter]");
      if (area && area.form) {
        event.preventDefault();
        area.form.requestSubmit();
      }
    }
  });

  // A form marked data-submit-once is sent once per intent: its submit buttons are disabled while it is on its
  // way, and a second Enter or click does nothing. The server does not rely on this (the form carries a token
  // and the same token declares once); it spares the person a second request. Re-enabled after a while, so a
  // lost connection does not lock the form.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-submit-once") || event.defaultPrevented) return;
    if (form.dataset.sending) {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    form.setAttribute("aria-busy", "true");
    // Disable after the browser has read the form: a disabled submitter would leave its name out.
    setTimeout(function () {
      form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
        button.disabled = true;
        var label = button.querySelector("[data-label]");
        if (label && button.dataset.busyLabel) {
          label.dataset.idle = label.textContent;
          label.textContent = button.dataset.busyLabel;
        }
      });
    }, 0);
    setTimeout(function () { releaseForm(form); }, 10000);
  });
  function releaseForm(form) {
    delete form.dataset.sending;
    form.removeAttribute("aria-busy");
    form.querySelectorAll("button[type=submit], input[type=submit]").forEach(function (button) {
      button.disabled = false;
      var label = button.querySelector("[data-label]");
      if (label && label.dataset.idle) label.textContent = label.dataset.idle;
    });
  }
  // Back to a page kept in memory: its forms may be used again.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) document.querySelectorAll("form[data-submit-once]").forEach(releaseForm);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    setupToasts();
    refreshTimes(event.target);
  });
  // A failed request (network down, server error) says so instead of failing silently.
  function isPoll(event) {
    var cfg = event.detail && event.detail.requestConfig;
    return cfg && cfg.verb === "get";
  }
  document.addEventListener("htmx:responseError", function (event) {
    if (isPoll(event)) return;
    showToast("error", "That did not work (" + event.detail.xhr.status + "). Reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (isPoll(event)) return;
    showToast("error", "Muster could not be reached. Check your connection and try again.");
  });

  function showToast(level, text) {
    var box = document.getElementById("messages");
    if (!box) return;
    var toast = document.createElement("div");
    toast.className = "toast toast-" + level;
    toast.setAttribute("role", level === "error" ? "alert" : "status");
    toast.setAttribute("data-toast", "");
    var span = document.createElement("span");
    span.className = "toast-text";
    span.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("aria-label", "Dismiss");
    close.setAttribute("data-dismiss", "");
    close.textContent = "×";
    toast.appendChild(span);
    toast.appendChild(close);
    box.appendChild(toast);
    setupToasts(box);
  }
})();
