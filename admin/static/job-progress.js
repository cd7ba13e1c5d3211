// Live progress of background jobs (the jobs list and a job's page): each element marked
// data-job that has not finished polls its status endpoint (same origin, JSON) and updates
// its figures in place; once one finishes the page reloads, so its buttons and outcome are
// the final ones. Without JavaScript the page refreshes itself (<noscript> meta).
(function () {
  "use strict";

  function set(job, field, value) {
    job.querySelectorAll('[data-field="' + field + '"]').forEach(function (el) {
      el.textContent = value === null || value === undefined ? "…" : String(value);
    });
  }

  function show(job, st) {
    set(job, "status_label", st.status_label);
    job.querySelectorAll('[data-field="status_label"]').forEach(function (el) {
      el.className = "status " + st.status;
    });
    set(job, "phase_label", st.phase_label);
    set(job, "done", st.done);
    set(job, "total", st.total);
    set(job, "attempts", st.attempts);
    job.querySelectorAll('progress[data-field="percent"]').forEach(function (bar) {
      if (st.percent !== null) {
        bar.value = st.percent;
        bar.textContent = st.percent + "%";
      }
    });
    job.querySelectorAll('[data-field="error"]').forEach(function (el) {
      el.textContent = st.error || "";
      if (el.tagName !== "TD") {
        el.hidden = !st.error;
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
