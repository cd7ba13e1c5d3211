// Live progress of background jobs, the one script of every page that follows one (the jobs
// list, a job's page, a bank statement import, a match run being solved, the yearly
// statements, a company's statement being prepared, the overdue reminder list; the last four
// through templates/console/_job_follow.html): each element marked data-job that has not
// finished polls its status endpoint (same origin, JSON) and updates its figures in place;
// once one finishes the page reloads, so its buttons and outcome are the final ones. Without
// JavaScript the page refreshes itself (<noscript> meta).
//
// What a page marks, inside its data-job element (the status JSON's keys name the fields):
//   data-field="KEY"        the text of st[KEY] ("…" while null; whole numbers as 12,345).
//                           status_label also sets the element's class to the status;
//                           error hides the element while there is none (not in a table);
//                           a <progress data-field="percent"> takes the percentage.
//   data-rows="KEY"         a <tbody> rebuilt from the list st[KEY], one row per item, one
//     data-columns="a b"    cell per named property (as text, never HTML).
//   data-shown-with="KEY"   shown once st[KEY] is a list with items, or a value (not null).
(function () {
  "use strict";

  function text(value) {
    if (value === null || value === undefined) {
      return "…";
    }
    if (typeof value === "number" && Number.isInteger(value)) {
      return value.toLocaleString("en-US");
    }
    return String(value);
  }

  function has(st, key) {
    return Object.prototype.hasOwnProperty.call(st, key);
  }

  function field(el, key, st) {
    var value = st[key];
    if (el.tagName === "PROGRESS") {
      if (value !== null) {
        el.value = value;
        el.textContent = value + "%";
      }
      return;
    }
    if (key === "error") {
      el.textContent = value || "";
      if (el.tagName !== "TD") {
        el.hidden = !value;
      }
      return;
    }
    if (typeof value === "object" && value !== null) {
      return; // a list or a mapping: data-rows shows those
    }
    el.textContent = text(value);
    if (key === "status_label") {
      el.className = "status " + st.status;
    }
  }

  function rows(body, items) {
    var columns = (body.getAttribute("data-columns") || "").split(" ").filter(Boolean);
    while (body.firstChild) {
      body.removeChild(body.firstChild);
    }
    items.forEach(function (item) {
      var tr = document.createElement("tr");
      columns.forEach(function (column) {
        var td = document.createElement("td");
        td.textContent = text(item[column]);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function show(job, st) {
    job.querySelectorAll("[data-field]").forEach(function (el) {
      var key = el.getAttribute("data-field");
      if (has(st, key)) {
        field(el, key, st);
      }
    });
    job.querySelectorAll("[data-rows]").forEach(function (body) {
      var key = body.getAttribute("data-rows");
      if (Array.isArray(st[key]) && st[key].length) {
        rows(body, st[key]);
      }
    });
    job.querySelectorAll("[data-shown-with]").forEach(function (el) {
      var items = st[el.getAttribute("data-shown-with")];
      if (Array.isArray(items) ? items.length : items !== null && items !== undefined) {
        el.hidden = false;
      }
    });
  }

  function watch(job) {
    var url = job.getAttribute("data-status-url");
    var delay = 1000;

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error(String(response.status));
          }
          return response.json();
        })
        .then(function (st) {
          show(job, st);
          if (st.finished) {
            window.location.reload();
            return;
          }
          delay = 1000;
          window.setTimeout(poll, delay);
        })
        .catch(function () {
          // The server is busy or restarting: try again, less often.
          delay = Math.min(delay * 2, 10000);
          window.setTimeout(poll, delay);
        });
    }

    window.setTimeout(poll, 500);
  }

  document.querySelectorAll("[data-job]").forEach(function (job) {
    if (job.getAttribute("data-finished") !== "true") {
      watch(job);
    }
  });
})();
