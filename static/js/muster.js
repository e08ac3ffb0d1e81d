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

  // --- Live pages (incidents/live.py) ---------------------------------------------------------------------------
  // A page with [data-live] asks its own address again every data-live-interval ms with ?_live=<the key it shows>.
  // "204 No Content": nothing changed. Otherwise the answer is the current page, and every [data-live-region] whose
  // content changed is swapped in: what the person is typing (and where the cursor is) is kept, and what someone
  // else changed is highlighted briefly. Hidden tabs do not ask; a tab shown again, or a page brought back by Back,
  // asks at once.
  var live = null;

  function fieldKey(el) {
    if (el.id) return "#" + el.id;
    var form = el.form;
    var where = form ? form.id || form.getAttribute("action") || "" : "";
    var which = el.type === "radio" || el.type === "checkbox" ? "=" + el.value : "";
    return where + "|" + el.name + which;
  }
  function defaultIndexes(select) {
    var picked = [];
    Array.prototype.forEach.call(select.options, function (o, i) { if (o.defaultSelected) picked.push(i); });
    if (!picked.length && !select.multiple && select.options.length) picked.push(0);
    return picked.join(",");
  }
  function selectedIndexes(select) {
    var picked = [];
    Array.prototype.forEach.call(select.options, function (o, i) { if (o.selected) picked.push(i); });
    return picked.join(",");
  }
  function isDirty(el) {
    if (!el.name && !el.id) return false;
    if (el.type === "hidden" || el.type === "submit" || el.type === "button" || el.type === "file") return false;
    if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") return selectedIndexes(el) !== defaultIndexes(el);
    return el.value !== el.defaultValue;
  }
  // What the person has done inside `region` that a re-render would lose: changed fields, the focus, open <details>.
  function capture(region, exempt) {
    var saved = { fields: {}, focus: null, open: {} };
    region.querySelectorAll("input, textarea, select").forEach(function (el) {
      if (exempt && el.form === exempt) return;
      var focused = el === document.activeElement;
      if (!isDirty(el) && !focused) return;
      var state = { dirty: isDirty(el) };
      if (el.tagName === "SELECT") {
        state.values = Array.prototype.filter.call(el.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
      } else if (el.type === "checkbox" || el.type === "radio") state.checked = el.checked;
      else state.value = el.value;
      var key = fieldKey(el);
      saved.fields[key] = state;
      if (focused) {
        saved.focus = { key: key };
        try { saved.focus.start = el.selectionStart; saved.focus.end = el.selectionEnd; } catch (e) { /* no selection */ }
      }
    });
    region.querySelectorAll("details").forEach(function (d, i) {
      if (d.open) saved.open[d.id || "details-" + i] = true;
    });
    return saved;
  }
  function restore(region, saved) {
    region.querySelectorAll("input, textarea, select").forEach(function (el) {
      var state = saved.fields[fieldKey(el)];
      if (!state || !state.dirty) return;
      if (el.tagName === "SELECT") {
        var values = state.values;
        var present = Array.prototype.some.call(el.options, function (o) { return values.indexOf(o.value) >= 0; });
        if (present) Array.prototype.forEach.call(el.options, function (o) { o.selected = values.indexOf(o.value) >= 0; });
      } else if ("checked" in state && (el.type === "checkbox" || el.type === "radio")) el.checked = state.checked;
      else if (state.value !== undefined) el.value = state.value;
    });
    region.querySelectorAll("details").forEach(function (d, i) {
      if (saved.open[d.id || "details-" + i]) d.open = true;
    });
  }
  function refocus(saved) {
    if (!saved.focus) return;
    var key = saved.focus.key;
    var el = key.charAt(0) === "#" ? document.getElementById(key.slice(1)) : null;
    if (!el) {
      document.querySelectorAll("input, textarea, select").forEach(function (f) { if (!el && fieldKey(f) === key) el = f; });
    }
    if (!el || el === document.activeElement) return;
    el.focus({ preventScroll: true });
    if (saved.focus.start != null) {
      try { el.setSelectionRange(saved.focus.start, saved.focus.end); } catch (e) { /* not a text field */ }
    }
  }

  // The text a person reads in an element: times (kept current here) and [data-live-ignore] (durations) left out.
  function liveText(el) {
    var parts = [];
    (function walk(node) {
      if (node.nodeType === 3) { parts.push(node.nodeValue); return; }
      if (node.nodeType !== 1) return;
      var tag = node.tagName;
      if (tag === "TIME" || tag === "SCRIPT" || node.hasAttribute("data-live-ignore")) return;
      if (tag === "INPUT" && node.type !== "hidden") parts.push("[" + node.getAttribute("value") + "]");
      for (var c = node.firstChild; c; c = c.nextSibling) walk(c);
    })(el);
    return parts.join("").replace(/\s+/g, " ").trim();
  }
  // The markup, less what changes on every render without meaning anything: CSRF tokens, relative times, the
  // classes htmx and this file add.
  function signature(el) {
    return el.outerHTML
      .replace(/(name="csrfmiddlewaretoken"[^>]*value=")[^"]*"/g, '$1"')
      .replace(/(value=")[^"]*("[^>]*name="csrfmiddlewaretoken")/g, '$1$2')
      .replace(/(<time\b[^>]*>)[\s\S]*?<\/time>/g, "$1</time>")
      .replace(/\s(htmx-[a-z]+|live-changed)\b/g, "")
      .replace(/\s+/g, " ");
  }

  var UNIT = "section, li, tr, p, h1, h2, h3, dd, .incident-badges, [data-live-unit]";
  function flash(el) {
    el.classList.remove("live-changed");
    void el.offsetWidth; // restart the animation
    el.classList.add("live-changed");
    setTimeout(function () { el.classList.remove("live-changed"); }, 4000);
  }
  // Highlight, inside the new element, the parts whose text differs from the old one's.
  function markChanges(oldEl, newEl) {
    if (liveText(oldEl) === liveText(newEl)) return 0;
    if (newEl.matches(UNIT)) { flash(newEl); return 1; }
    var oc = oldEl.children;
    var nc = newEl.children;
    var marked = 0;
    if (!nc.length && !oc.length) { flash(newEl); return 1; }
    if (nc.length && oc.length === nc.length) {
      for (var i = 0; i < nc.length; i++) marked += markChanges(oc[i], nc[i]);
      if (marked) return marked;
    } else {
      // Parts came or went: highlight what is new (by id, else by its text); a part that went is gone, which
      // shows by itself.
      var byId = {};
      var texts = {};
      Array.prototype.forEach.call(oc, function (c) {
        if (c.id) byId[c.id] = c;
        texts[liveText(c)] = true;
      });
      Array.prototype.forEach.call(nc, function (c) {
        if (c.id && byId[c.id]) marked += markChanges(byId[c.id], c);
        else if (!texts[liveText(c)]) { flash(c); marked++; }
      });
      return marked;
    }
    flash(newEl);
    return 1;
  }

  function swapRegion(old, fresh) {
    var sig = signature(fresh);
    if ((old._liveSig || signature(old)) === sig) return false;
    var saved = capture(old, null);
    var node = document.importNode(fresh, true);
    restore(node, saved);
    old.replaceWith(node);
    node._liveSig = sig;
    if (window.htmx) window.htmx.process(node);
    refreshTimes(node);
    markChanges(old, node);
    refocus(saved);
    return true;
  }

  function setLiveText(text) {
    if (!live) return;
    var box = live.el.querySelector("[data-live-text]");
    if (box && box.textContent !== text) box.textContent = text;
    live.el.classList.toggle("live-status-problem", !!text);
  }

  function applyPage(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var changed = 0;
    doc.querySelectorAll("[data-live-region][id]").forEach(function (fresh) {
      var old = document.getElementById(fresh.id);
      if (old && old.hasAttribute("data-live-region") && swapRegion(old, fresh)) changed++;
    });
    // Messages the answer carried (flashed for this person by another tab's action) are shown, not lost.
    var box = document.getElementById("messages");
    doc.querySelectorAll("#messages [data-toast]").forEach(function (toast) {
      if (box) box.appendChild(document.importNode(toast, true));
    });
    if (box) setupToasts(box);
    return changed;
  }

  function schedule(delay) {
    if (!live || live.stopped) return;
    clearTimeout(live.timer);
    live.timer = setTimeout(function () { poll(false); }, delay == null ? live.interval : delay);
  }

  function poll(force) {
    if (!live || live.stopped) return;
    if (document.hidden) { live.due = true; return; }
    if (live.busy) { live.again = true; return; }
    live.busy = true;
    live.due = false;
    var generation = live.generation;
    var here = location.href;
    var url = new URL(here);
    var stale = force || Date.now() - live.rendered > live.maxAge;
    url.searchParams.set("_live", stale ? "" : live.key);
    fetch(url.toString(), {
      headers: { "X-Muster-Live": "1", Accept: "text/html" },
      credentials: "same-origin",
      cache: "no-store",
      redirect: "follow",
    })
      .then(function (response) {
        var key = response.headers.get("X-Live-Key");
        if (response.status === 404) {
          live.stopped = true;
          setLiveText("You can no longer see this incident (it may have been made private). Reload the page.");
          return;
        }
        if (response.redirected || !key) {
          live.stopped = true;
          setLiveText("Live updates stopped: you are signed out. Reload the page to sign in again.");
          return;
        }
        if (!response.ok && response.status !== 204) throw new Error(String(response.status));
        live.failures = 0;
        setLiveText("");
        if (response.status === 204) return;
        return response.text().then(function (html) {
          // Something else changed the page while this was on its way (an action, a filter): ask again.
          if (generation !== live.generation || here !== location.href) { live.again = true; return; }
          applyPage(html);
          live.key = key;
          live.rendered = Date.now();
        });
      })
      .catch(function () {
        live.failures += 1;
        if (live.failures >= 2) {
          setLiveText("Live updates paused: Muster cannot be reached. What you see may be out of date.");
        }
      })
      .then(function () {
        live.busy = false;
        if (live.again) { live.again = false; schedule(0); } else schedule();
      });
  }

  function setupLive() {
    var el = document.querySelector("[data-live]");
    if (!el || !window.fetch || !window.DOMParser) return;
    live = {
      el: el,
      key: el.getAttribute("data-live-key") || "",
      interval: Math.max(250, parseInt(el.getAttribute("data-live-interval"), 10) || 15000),
      maxAge: Math.max(1000, parseInt(el.getAttribute("data-live-max-age"), 10) || 60000),
      rendered: Date.now(),
      generation: 0,
      failures: 0,
      timer: null,
    };
    document.querySelectorAll("[data-live-region]").forEach(function (region) { region._liveSig = signature(region); });
    schedule();
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && live.due) poll(false);
    });
    // Back to a page kept in memory: ask for the current state at once.
    window.addEventListener("pageshow", function (event) { if (event.persisted) poll(true); });
  }

  // An action's answer (htmx, out of band) re-renders the parts it changed; then the rest of the page is asked
  // for, so that a refused, stale click leaves the whole page current. A form being sent is not "kept": its
  // answer decides what it shows (cleared after a note, errors after a refusal).
  var sending = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (live) live.generation += 1;
    var elt = event.detail && event.detail.elt;
    sending = elt && elt.closest ? elt.closest("form") : null;
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var cfg = event.detail && event.detail.requestConfig;
    if (live && cfg && cfg.verb !== "get") { live.generation += 1; schedule(0); }
  });
  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    var target = event.detail && event.detail.target;
    var fragment = event.detail && event.detail.fragment;
    if (!target || !fragment || !target.querySelector) return;
    var saved = capture(target, sending);
    var root = fragment.firstElementChild || fragment;
    if (root.querySelectorAll) restore(root, saved);
    setTimeout(function () { refocus(saved); }, 0);
  });
  document.addEventListener("DOMContentLoaded", setupLive);
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
