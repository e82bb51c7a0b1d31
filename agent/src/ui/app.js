// The official's page: fills the queue from /ui/api/status, runs "sync now"
// and imports through the service. Plain ES2017, no library: it has to
// work offline in the browsers a commune PC has.
//
// The login link hands over a session key in the address's fragment; it is
// kept in sessionStorage (this origin's alone, port included, unlike the
// cookie) and sent with every API request.
"use strict";

(function () {
  var S = JSON.parse(document.getElementById("strings").textContent);
  var lang = document.documentElement.lang === "en" ? "en" : "vi";
  var KEY_NAME = "hotich-session";
  var syncing = false;
  var ended = false;
  var poller = null;

  var handed = /^#k=([0-9a-f]{64})$/.exec(location.hash);
  if (handed) {
    sessionStorage.setItem(KEY_NAME, handed[1]);
    history.replaceState(null, "", location.pathname + location.search);
  }
  var key = sessionStorage.getItem(KEY_NAME) || "";

  function $(id) { return document.getElementById(id); }

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function api(path) {
    return path + (path.indexOf("?") < 0 ? "?" : "&") + "lang=" + lang;
  }

  function call(path, options) {
    options = options || {};
    options.credentials = "same-origin";
    options.headers = Object.assign({ "x-hotich-session": key }, options.headers || {});
    return fetch(api(path), options);
  }

  // The answer's JSON, or an error the official can read when there is none.
  async function answer(response) {
    try {
      return await response.json();
    } catch (e) {
      return { error: fill(S["ui-request-failed"], { error: "HTTP " + response.status }) };
    }
  }

  function number(n) {
    return typeof n === "number" ? n.toLocaleString(lang === "en" ? "en-US" : "vi-VN") : "–";
  }

  // A session that ended (service restarted, 8 hours idle): say so once,
  // stop asking.
  function sessionEnded(response, where) {
    if (response.status !== 401) return false;
    ended = true;
    if (poller !== null) clearInterval(poller);
    $("sync-message").textContent = S["ui-session-ended"];
    if (where) where.textContent = S["ui-session-ended"];
    $("sync-now").disabled = true;
    $("import-button").disabled = true;
    return true;
  }

  async function refresh() {
    if (ended) return;
    var response;
    try {
      response = await call("/ui/api/status");
    } catch (e) {
      $("sync-message").textContent = fill(S["ui-request-failed"], { error: e.message });
      return;
    }
    if (sessionEnded(response)) return;
    var s = await answer(response);
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
    if (syncing || ended) return;
    syncing = true;
    var button = $("sync-now");
    var bar = $("sync-progress");
    var message = $("sync-message");
    button.disabled = true;
    bar.hidden = false;
    bar.removeAttribute("value");
    message.textContent = S["ui-syncing"];
    try {
      var response = await call("/ui/api/sync", { method: "POST" });
      if (sessionEnded(response)) return;
      if (!response.ok) {
        message.textContent = (await answer(response)).error;
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
      bar.hidden = true;
      if (!ended) button.disabled = false;
      refresh().catch(function () {});
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
  }

  async function importFile(submit) {
    submit.preventDefault();
    if (ended) return;
    var input = $("import-file");
    var summary = $("import-summary");
    var table = $("import-problems");
    var rejects = $("import-rejects");
    var file = input.files && input.files[0];
    if (!file) {
      summary.textContent = S["ui-import-choose"];
      return;
    }
    var official = $("import-official");
    if (official && !official.value) {
      summary.textContent = S["ui-import-choose-official"];
      official.focus();
      return;
    }
    $("import-button").disabled = true;
    summary.textContent = S["ui-importing"];
    rejects.textContent = "";
    table.hidden = true;
    var body = table.querySelector("tbody");
    body.textContent = "";
    try {
      var query = "?name=" + encodeURIComponent(file.name) +
        (official ? "&official=" + encodeURIComponent(official.value) : "");
      var response = await call("/ui/api/import" + query, {
        method: "POST",
        headers: { "content-type": "application/octet-stream" },
        body: file,
      });
      if (sessionEnded(response, summary)) return;
      var result = await answer(response);
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
        a.href = "#";
        a.dataset.url = r.url;
        a.dataset.name = r.name;
        a.className = "rejects-link";
        a.textContent = fill(S["ui-rejects-download"], { name: r.name });
        rejects.appendChild(a);
      });
    } catch (e) {
      summary.textContent = fill(S["ui-request-failed"], { error: e.message });
    } finally {
      if (!ended) $("import-button").disabled = false;
      input.value = "";
      refresh().catch(function () {});
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

  // Downloads need the session key too, so they go through fetch.
  async function download(url, name) {
    var response = await call(url);
    if (sessionEnded(response)) return;
    if (!response.ok) {
      $("import-summary").textContent = (await answer(response)).error;
      return;
    }
    var blob = await response.blob();
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.appendChild(link);
    link.click();
    setTimeout(function () {
      URL.revokeObjectURL(link.href);
      link.remove();
    }, 1000);
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest ? event.target.closest("a[data-url]") : null;
    if (!target) return;
    event.preventDefault();
    download(target.dataset.url, target.dataset.name || "").catch(function (e) {
      $("import-summary").textContent = fill(S["ui-request-failed"], { error: e.message });
    });
  });
  $("sync-now").addEventListener("click", syncNow);
  $("import-form").addEventListener("submit", importFile);
  if (!key) {
    sessionEnded({ status: 401 });
    return;
  }
  refresh();
  poller = setInterval(function () { if (!syncing) refresh(); }, 5000);
})();
