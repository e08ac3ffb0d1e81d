/* Muster's quick switcher: "/" or Ctrl+K (Cmd+K) anywhere focuses the search box in the top bar; an incident
   number or a few title words list the matching incidents the person may see; Enter opens the chosen one,
   Escape closes. Without this file the box is a plain GET form: /incidents/go/?q=42 opens INC-42, anything else
   is the incident list's search. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 120;

  function isTyping(target) {
    if (!target || !target.closest) return false;
    if (target.isContentEditable) return true;
    return !!target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]");
  }

  function setup(form) {
    var input = form.querySelector("input[name=q]");
    var list = form.querySelector("[role=listbox]");
    var url = form.getAttribute("data-suggest-url");
    if (!input || !list || !url) return;
    var timer = null;
    var controller = null;
    var shownFor = null; // the text the list shows suggestions for
    var active = -1;
    var returnFocus = null;
    var pendingEnter = false;
    var enterTimer = null;

    function options() {
      return Array.prototype.slice.call(list.querySelectorAll("[role=option]"));
    }

    function open(yes) {
      list.hidden = !yes;
      input.setAttribute("aria-expanded", yes ? "true" : "false");
      form.classList.toggle("switcher-open", !!yes);
      if (!yes) {
        active = -1;
        input.removeAttribute("aria-activedescendant");
      }
    }

    function highlight(index) {
      var items = options();
      if (!items.length) return;
      active = (index + items.length) % items.length;
      items.forEach(function (item, i) {
        item.setAttribute("aria-selected", i === active ? "true" : "false");
      });
      input.setAttribute("aria-activedescendant", items[active].id);
      items[active].scrollIntoView({ block: "nearest" });
    }

    function option(id, href, parts) {
      var li = document.createElement("li");
      li.id = id;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", "false");
      var a = document.createElement("a");
      a.href = href;
      a.tabIndex = -1;
      parts.forEach(function (part) {
        var span = document.createElement("span");
        span.className = part[0];
        span.textContent = part[1]; // text only: a title can never become markup
        if (part[2]) span.style.setProperty("--sev", part[2]);
        a.appendChild(span);
      });
      li.appendChild(a);
      return li;
    }

    function render(text, data) {
      list.textContent = "";
      (data.results || []).forEach(function (r, i) {
        var li = option("switcher-opt-" + i, r.url, [
          ["ref", r.reference],
          ["switcher-title", r.title],
          ["chip sev chip-sm", r.severity, r.severity_colour],
          ["pill pill-sm status-" + String(r.status).replace(/[^a-z0-9_-]/g, ""), r.status_label],
        ]);
        li.setAttribute("data-incident", r.id);
        list.appendChild(li);
      });
      if (!(data.results || []).length) {
        var empty = document.createElement("li");
        empty.className = "switcher-empty muted";
        empty.textContent = "No incident you can see matches.";
        list.appendChild(empty);
      }
      list.appendChild(
        option("switcher-opt-search", data.search_url, [["switcher-search", "Search all incidents for \u201c" + text.trim() + "\u201d"]])
      );
      shownFor = text;
      open(true);
      highlight(0);
      if (pendingEnter) {
        pendingEnter = false;
        clearTimeout(enterTimer);
        var first = list.querySelector("[role=option][data-incident] a");
        if (first) window.location.assign(first.href);
        else form.submit();
      }
    }

    function suggest() {
      var text = input.value;
      if (!text.trim()) {
        if (controller) controller.abort();
        shownFor = null;
        list.textContent = "";
        open(false);
        return;
      }
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      fetch(url + "?q=" + encodeURIComponent(text), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: controller ? controller.signal : undefined,
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (input.value !== text) return;
          if (data && (document.activeElement === input || pendingEnter)) render(text, data);
          else if (pendingEnter) {
            pendingEnter = false;
            form.submit();
          }
        })
        .catch(function (error) {
          // Aborted (a newer query is on its way) or offline: on Enter the plain form still works.
          if (error && error.name === "AbortError") return;
          if (pendingEnter) {
            pendingEnter = false;
            form.submit();
          }
        });
    }

    input.addEventListener("input", function () {
      pendingEnter = false;
      clearTimeout(timer);
      timer = setTimeout(suggest, DEBOUNCE_MS);
    });
    input.addEventListener("focus", function () {
      if (shownFor !== null && shownFor === input.value && list.children.length) open(true);
    });
    input.addEventListener("blur", function () {
      setTimeout(function () { if (document.activeElement !== input) open(false); }, 150);
    });
    // A click on a suggestion must not blur the box before the link is followed.
    list.addEventListener("mousedown", function (event) { event.preventDefault(); });

    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (list.hidden) return;
        event.preventDefault();
        highlight(active + (event.key === "ArrowDown" ? 1 : -1));
      } else if (event.key === "Enter") {
        // The highlighted suggestion, if the list shows what is typed; else the form goes to /incidents/go/,
        // which opens a number the person may see or searches the list.
        var items = options();
        if (!list.hidden && shownFor === input.value && active >= 0 && items[active]) {
          event.preventDefault();
          window.location.assign(items[active].querySelector("a").href);
        } else if (input.value.trim() && window.fetch) {
          // The suggestions for what is typed are not in yet: open the first of them when they come (the same
          // incident a number names), or let the form search if none comes soon.
          event.preventDefault();
          pendingEnter = true;
          clearTimeout(timer);
          suggest();
          clearTimeout(enterTimer);
          enterTimer = setTimeout(function () {
            if (pendingEnter) {
              pendingEnter = false;
              form.submit();
            }
          }, 1500);
        }
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        if (!list.hidden) {
          open(false);
        } else {
          input.value = "";
          input.blur();
          if (returnFocus && returnFocus.focus) returnFocus.focus();
        }
      }
    });

    document.addEventListener("keydown", function (event) {
      var k = event.key && event.key.toLowerCase();
      var combo = k === "k" && (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey;
      var slash = event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target);
      if (!combo && !slash) return;
      if (document.activeElement === input && slash) return;
      event.preventDefault();
      returnFocus = document.activeElement !== input ? document.activeElement : returnFocus;
      input.focus();
      input.select();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form[data-switcher]").forEach(setup);
  });
})();
