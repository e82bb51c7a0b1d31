// The official's page: fills the queue from /ui/api/status, runs "sync now"
// and imports through the service. Plain ES2017, no library: it has to
// work offline in the browsers a commune PC has.
"use strict";

(function () {
  var S = JSON.parse(document.getElementById("strings").textContent);
  var lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "vi";
  var syncing = false;

  function $(id) { return document.getElementById(id); }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function api(path) {
    return path + (path.indexOf("?") < 0 ? "?" : "&") + "lang=" + lang;
  }

  function number(n) {
    return typeof n === "number" ? n.toLocaleString(lang === "en" ? "en-US" : "vi-VN") : "–";
  }

  function sessionEnded(response) {
    if (response.status === 401) {
      $("sync-message").textContent = S["ui-session-ended"];
      return true;
    }
    return false;
  }

  async function refresh() {
    var response;
    try {
      response = await fetch(api("/ui/api/status"), { credentials: "same-origin" });
    } catch (e) {
      $("sync-message").textContent = fill(S["ui-request-failed"], { error: e.message });
      return;
    }
    if (sessionEnded(response)) return;
    var s = await response.json();
    if (s.error) {
      $("journal-problem").hidden = false;
      $("journal-problem").textContent = s.error;
      return;
    }
    $("waiting").textContent = number(s.waiting);
    $("sent").textContent = number(s.sent);
    $("refused").textContent = number(s.refused);
    $("last-success").textContent = s.last_success;
    $("next-try").textContent = s.next_try;
    var link = $("link");
    link.className = "link-" + s.link;
    link.textContent = S["ui-link-" + s.link];
    $("last-error").hidden = !s.last_error;
    $("last-error").textContent = s.last_error || "";
    $("journal-problem").hidden = !s.journal_problem;
    $("journal-problem").textContent = s.journal_problem || "";
    showRefused(s.refused_entries || []);
  }

  function showRefused(entries) {
    var list = $("refused-list");
    list.textContent = "";
    if (entries.length === 0) {
      var none = document.createElement("li");
      none.textContent = S["ui-refused-none"];
      list.appendChild(none);
      return;
    }
    entries.forEach(function (r) {
      var item = document.createElement("li");
      var title = document.createElement("strong");
      title.textContent = fill(S["ui-refused-entry"], { seq: r.seq });
      item.appendChild(title);
      if (r.source) {
        var source = document.createElement("span");
        source.className = "source";
        source.textContent = " (" + r.source + ")";
        item.appendChild(source);
      }
      var message = document.createElement("div");
      message.textContent = r.message;
      item.appendChild(message);
      list.appendChild(item);
    });
  }

  async function syncNow() {
    if (syncing) return;
    syncing = true;
    var button = $("sync-now");
    var bar = $("sync-progress");
    var message = $("sync-message");
    button.disabled = true;
    bar.hidden = false;
    bar.removeAttribute("value");
    message.textContent = S["ui-syncing"];
    try {
      var response = await fetch(api("/ui/api/sync"), {
        method: "POST",
        credentials: "same-origin",
      });
      if (!response.ok) {
        if (!sessionEnded(response)) {
          var problem = await response.json().catch(function () { return {}; });
          message.textContent = problem.error || fill(S["ui-request-failed"], { error: response.status });
        }
        return;
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffered = "";
      for (;;) {
        var chunk = await reader.read();
        if (chunk.done) break;
        buffered += decoder.decode(chunk.value, { stream: true });
        var end;
        while ((end = buffered.indexOf("\n")) >= 0) {
          var line = buffered.slice(0, end);
          buffered = buffered.slice(end + 1);
          if (line.trim()) showEvent(JSON.parse(line));
        }
      }
    } catch (e) {
      message.textContent = fill(S["ui-request-failed"], { error: e.message });
    } finally {
      syncing = false;
      button.disabled = false;
      await refresh();
    }
  }

  function showEvent(event) {
    var bar = $("sync-progress");
    $("sync-message").textContent = event.text;
    if (typeof event.sent === "number" && typeof event.pending === "number") {
      var total = event.sent + event.pending;
      bar.max = total > 0 ? total : 1;
      bar.value = total > 0 ? event.sent : 1;
      $("waiting").textContent = number(event.pending);
    }
    if (event.event === "finished") {
      bar.hidden = true;
    }
  }

  async function importFile(submit) {
    submit.preventDefault();
    var input = $("import-file");
    var summary = $("import-summary");
    var table = $("import-problems");
    var rejects = $("import-rejects");
    var file = input.files && input.files[0];
    if (!file) {
      summary.textContent = S["ui-import-choose"];
      return;
    }
    $("import-button").disabled = true;
    summary.textContent = S["ui-importing"];
    rejects.textContent = "";
    table.hidden = true;
    var body = table.querySelector("tbody");
    body.textContent = "";
    try {
      var response = await fetch(api("/ui/api/import?name=" + encodeURIComponent(file.name)), {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/octet-stream" },
        body: file,
      });
      if (sessionEnded(response)) return;
      var result = await response.json();
      if (result.error) {
        summary.textContent = result.error;
        return;
      }
      summary.textContent = result.text;
      (result.files_problems || []).forEach(function (text) {
        addProblem(body, "", text);
      });
      result.problems.forEach(function (p) {
        var where = p.sheet
          ? fill(S["ui-import-row-sheet"], { sheet: p.sheet, line: p.line })
          : fill(S["ui-import-row"], { line: p.line });
        addProblem(body, where, p.message);
      });
      var more = result.rejected - result.problems.length;
      if (more > 0) addProblem(body, "", fill(S["ui-import-more"], { count: more }));
      table.hidden = body.children.length === 0;
      result.rejects.forEach(function (r) {
        var a = document.createElement("a");
        a.href = r.url;
        a.setAttribute("download", r.name);
        a.className = "rejects-link";
        a.textContent = fill(S["ui-rejects-download"], { name: r.name });
        rejects.appendChild(a);
      });
    } catch (e) {
      summary.textContent = fill(S["ui-request-failed"], { error: e.message });
    } finally {
      $("import-button").disabled = false;
      input.value = "";
      await refresh();
    }
  }

  function addProblem(body, where, text) {
    var row = document.createElement("tr");
    var cell = document.createElement("td");
    cell.className = "where";
    cell.textContent = where;
    row.appendChild(cell);
    cell = document.createElement("td");
    cell.textContent = text;
    row.appendChild(cell);
    body.appendChild(row);
  }

  $("sync-now").addEventListener("click", syncNow);
  $("import-form").addEventListener("submit", importFile);
  refresh();
  setInterval(function () { if (!syncing) refresh(); }, 5000);
})();
