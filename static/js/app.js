// Small behaviours without inline script: confirmation prompts on [data-confirm] forms.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var message = form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
});

// The application form: sections autosave through htmx (see templates/applications/drafting/).
// What the user types is copied to localStorage at once and only dropped after the server
// confirms the save, so an expired session or CSRF token never loses input. No money is
// computed here: totals come from the server.
(function () {
  "use strict";

  var SECTION = "form[data-storage-key]";
  var state = {};          // storage key -> {edits, sentEdits, sentAt}
  var pendingSubmit = null; // set while a submission waits for the sections to save

  function track(key) {
    if (!state[key]) { state[key] = { edits: 0, sentEdits: 0, sentAt: 0 }; }
    return state[key];
  }

  function isDirty(key) {
    var s = state[key];
    return !!s && s.edits > s.sentEdits;
  }

  function messages() {
    var root = document.querySelector("[data-application-form]");
    return root ? root.dataset : {};
  }

  function setStatus(form, text, className) {
    var status = form && form.querySelector("[data-save-status]");
    if (!status) { return; }
    status.textContent = "";
    if (text) {
      var span = document.createElement("span");
      span.className = className || "text-body-secondary";
      span.textContent = text;
      status.appendChild(span);
    }
  }

  function formValues(form) {
    var values = [];
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.name === "csrf_token" || el.type === "file" || el.type === "submit" || el.type === "button") {
        return;
      }
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) { return; }
      values.push([el.name, el.value]);
    });
    return values;
  }

  function storeCopy(form) {
    var key = form.dataset.storageKey;
    try {
      window.localStorage.setItem(key, JSON.stringify({
        savedAt: Date.now(), base: form.dataset.updatedAt, values: formValues(form)
      }));
    } catch (e) { /* storage full or disabled: the server copy is all we have */ }
  }

  function readCopy(key) {
    try {
      return JSON.parse(window.localStorage.getItem(key) || "null");
    } catch (e) {
      return null;
    }
  }

  function dropCopy(key, unlessNewerThan) {
    var copy = readCopy(key);
    if (copy && unlessNewerThan && copy.savedAt > unlessNewerThan) { return; }
    try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ }
  }

  // --- repeatable rows (team, milestones): cloned from a <template> with __index__ -------------
  function addRow(form) {
    var body = form.querySelector("[data-rows]");
    var template = form.querySelector("template[data-row-template]");
    if (!body || !template) { return null; }
    var index = parseInt(body.dataset.nextIndex || "0", 10);
    var number = body.querySelectorAll("[data-row]").length + 1;
    var html = template.innerHTML.split("__index__").join(String(index)).split("__number__").join(String(number));
    body.insertAdjacentHTML("beforeend", html);
    body.dataset.nextIndex = String(index + 1);
    return body.lastElementChild;
  }

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var row = addRow(add.closest("form"));
      var first = row && row.querySelector("input, select, textarea");
      if (first) { first.focus(); }
      return;
    }
    var remove = event.target.closest("[data-remove-row]");
    if (remove) {
      var form = remove.closest("form");
      remove.closest("tr").remove();
      var next = form.querySelector("[data-add-row]");
      if (next) { next.focus(); }
      changed(form);
      form.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  // --- keeping a copy of what is typed -------------------------------------------------------
  function changed(form) {
    var key = form.dataset.storageKey;
    track(key).edits += 1;
    storeCopy(form);
    setStatus(form, messages().msgUnsaved);
  }

  document.addEventListener("input", function (event) {
    var form = event.target.closest && event.target.closest(SECTION);
    if (form) { changed(form); }
  });
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest(SECTION);
    if (form && event.target !== form) { changed(form); }
  });

  function restore(form) {
    var key = form.dataset.storageKey;
    var copy = readCopy(key);
    if (!copy || !copy.values) { return false; }
    var serverTime = parseInt(form.dataset.updatedAt || "0", 10);
    var newer = copy.base === form.dataset.updatedAt || copy.savedAt > serverTime;
    if (!newer) { dropCopy(key); return false; }
    var current = JSON.stringify(formValues(form));
    if (current === JSON.stringify(copy.values)) { dropCopy(key); return false; }
    copy.values.forEach(function (pair) {
      var name = pair[0];
      var field = form.elements.namedItem(name);
      var guard = 0;
      while (!field && /-\d+-/.test(name) && guard < 50) {
        if (!addRow(form)) { break; }
        field = form.elements.namedItem(name);
        guard += 1;
      }
      if (field && field.value !== undefined) { field.value = pair[1]; }
    });
    track(key).edits += 1;
    return true;
  }

  function restoreAll() {
    var restored = [];
    document.querySelectorAll(SECTION).forEach(function (form) {
      if (restore(form)) { restored.push(form); }
    });
    if (!restored.length) { return; }
    var notice = document.querySelector("[data-restore-notice]");
    if (notice) { notice.classList.remove("d-none"); }
    restored.forEach(function (form) {
      if (window.htmx) { window.htmx.trigger(form, "submit"); }
    });
  }

  // --- the banner shown when a save is refused -------------------------------------------------
  function showBanner(reason) {
    var banner = document.querySelector("[data-save-banner]");
    if (!banner) { return; }
    banner.querySelectorAll("[data-banner-reason]").forEach(function (p) {
      p.classList.toggle("d-none", p.dataset.bannerReason !== reason);
    });
    banner.classList.remove("d-none");
    banner.scrollIntoView({ block: "nearest" });
  }

  function hideBanner() {
    var banner = document.querySelector("[data-save-banner]");
    if (banner) { banner.classList.add("d-none"); }
  }

  function reasonFor(status) {
    if (status === 400 || status === 401 || status === 403) { return "session"; }
    if (status === 409) { return "conflict"; }
    if (status === 413) { return "too-large"; }
    return "other";
  }

  function sectionOf(elt) {
    return elt && elt.matches && elt.matches(SECTION) ? elt : null;
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = sectionOf(event.detail.elt);
    if (!form) { return; }
    var s = track(form.dataset.storageKey);
    s.sentEdits = s.edits;
    s.sentAt = Date.now();
    setStatus(form, messages().msgSaving);
  });

  // beforeSwap is the last event that reaches the document: after an outerHTML swap the
  // later events fire on the detached old form.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (!xhr || xhr.status !== 200) { return; }
    hideBanner();
    var form = sectionOf(event.detail.elt);
    if (!form) { return; }
    var key = form.dataset.storageKey;
    var s = track(key);
    if (isDirty(key)) {
      // The user typed while the save was under way: keep their input, save again on the next change.
      event.detail.shouldSwap = false;
      setStatus(form, messages().msgUnsaved);
      return;
    }
    if (xhr.getResponseHeader("X-Section-Saved")) {
      dropCopy(key, s.sentAt);
      s.edits = s.sentEdits = 0;
      if (pendingSubmit && !Object.keys(state).some(isDirty)) {
        pendingSubmit = null;
        window.setTimeout(function () {
          // The checklist with its submit form has just been swapped in anew.
          var submitForm = document.querySelector("[data-submit-form]");
          if (submitForm) { submitForm.submit(); }
        }, 50);
      }
    } else if (pendingSubmit) {
      pendingSubmit = null;  // a section has errors: the user sees them before submitting
    }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var form = sectionOf(event.detail.elt);
    if (form) { setStatus(form, messages().msgFailed, "text-danger"); }
    pendingSubmit = null;
    showBanner(reasonFor(event.detail.xhr ? event.detail.xhr.status : 0));
  });

  document.addEventListener("htmx:sendError", function (event) {
    var form = sectionOf(event.detail.elt);
    if (form) { setStatus(form, messages().msgFailed, "text-danger"); }
    pendingSubmit = null;
    showBanner("other");
  });

  // Submitting waits for the sections with unsaved changes to be saved first.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-submit-form]")) { return; }
    var dirty = Array.prototype.filter.call(document.querySelectorAll(SECTION), function (f) {
      return isDirty(f.dataset.storageKey);
    });
    if (!dirty.length || !window.htmx) { return; }
    event.preventDefault();
    pendingSubmit = form;
    dirty.forEach(function (f) { window.htmx.trigger(f, "submit"); });
  });

  // A refused form: its error summary is where the reader starts, even far down a long page.
  function focusErrorSummary() {
    var summary = document.querySelector(".error-summary");
    if (summary) {
      summary.focus({ preventScroll: true });
      summary.scrollIntoView({ block: "start" });
    }
  }

  function ready() {
    restoreAll();
    focusErrorSummary();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
