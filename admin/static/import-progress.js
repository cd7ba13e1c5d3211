// Live progress of a bank statement import: polls the job's status endpoint (same origin,
// JSON) and updates the figures in place; reloads once the job has finished so the page
// shows its final state. Without JavaScript the page refreshes itself (<noscript> meta).
(function () {
  "use strict";
  var job = document.getElementById("job");
  if (!job || job.getAttribute("data-finished") === "true") {
    return;
  }
  var url = job.getAttribute("data-status-url");
  var delay = 1000;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) {
      el.textContent = value === null || value === undefined ? "…" : String(value);
    }
  }

  function badLines(rows) {
    var section = document.getElementById("bad-lines-section");
    var body = document.querySelector("#bad-lines tbody");
    if (!section || !body || !rows.length) {
      return;
    }
    while (body.firstChild) {
      body.removeChild(body.firstChild);
    }
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      [row.line, row.message].forEach(function (value) {
        var td = document.createElement("td");
        td.textContent = String(value);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    section.hidden = false;
  }

  function show(st) {
    var status = document.getElementById("job-status");
    if (status) {
      status.textContent = st.status_label;
      status.className = "status " + st.status;
    }
    text("job-phase", st.phase_label);
    text("lines-done", st.lines_done);
    text("lines-total", st.lines_total);
    var bar = document.getElementById("job-progress");
    if (bar && st.percent !== null) {
      bar.value = st.percent;
      bar.textContent = st.percent + "%";
    }
    ["lines_new", "duplicates", "matched", "suggested", "unmatched", "donations_recorded",
      "bad_line_count"].forEach(function (key) {
      text("count-" + key.replace(/_/g, "-"), st[key]);
    });
    badLines(st.bad_lines || []);
    if (st.error) {
      var error = document.getElementById("job-error");
      error.textContent = st.error;
      error.hidden = false;
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.json();
      })
      .then(function (st) {
        show(st);
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
})();
