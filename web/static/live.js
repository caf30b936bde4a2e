// Live updates of a running build's page: its log lines, stages and verdict arrive as server-sent events.
// Without JavaScript the page shows the build as it was when loaded.
"use strict";
(function () {
  var log = document.getElementById("log");
  if (!log || !log.dataset.live || !window.EventSource) return;
  var group = log.lastElementChild && log.lastElementChild.querySelector("pre");
  var es = new EventSource(log.dataset.live);
  function newGroup(title) {
    var d = document.createElement("details");
    d.className = "group";
    d.open = true;
    var s = document.createElement("summary");
    s.textContent = title;
    d.appendChild(s);
    var pre = document.createElement("pre");
    d.appendChild(pre);
    log.appendChild(d);
    return pre;
  }
  // Lines are numbered from the page's count when it shows the log from its start; a tail anchors them by
  // byte offset.
  var num = log.dataset.line === "" ? -1 : parseInt(log.dataset.line, 10);
  es.addEventListener("lines", function (ev) {
    var data = ev.data.split("\n");
    var head = JSON.parse(data[0]);
    var stages = head.s || {};
    var atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    var frag = document.createDocumentFragment();
    var offset = head.b;
    head.l.forEach(function (length, i) {
      if (stages[i] !== undefined || !group) {
        if (frag.childNodes.length) group.appendChild(frag);
        group = newGroup(stages[i] || "output");
      }
      var id = num >= 0 ? "L" + (++num) : "o" + offset;
      var span = document.createElement("span");
      span.className = "line";
      span.id = id;
      var a = document.createElement("a");
      a.className = "ln";
      a.href = "#" + id;
      a.tabIndex = -1;
      a.textContent = num >= 0 ? String(num) : "";
      span.appendChild(a);
      var text = document.createElement("span");
      text.innerHTML = data[i + 1]; // escaped and coloured by the server
      span.appendChild(text);
      span.appendChild(document.createTextNode("\n"));
      frag.appendChild(span);
      offset += length;
    });
    group.appendChild(frag);
    if (atEnd) window.scrollTo(0, document.body.scrollHeight);
  });
  function state(ev) {
    var s = JSON.parse(ev.data);
    var st = document.getElementById("status");
    st.textContent = s.status;
    st.className = "st st-" + s.status;
    document.getElementById("took").textContent = s.took;
    var v = document.getElementById("verdict");
    v.textContent = s.status + (s.message ? ": " + s.message : "");
    var body = document.querySelector("#stages tbody");
    if (body && s.stages.length) {
      body.textContent = "";
      s.stages.forEach(function (x) {
        var tr = document.createElement("tr");
        [x.stage, x.status, (x.duration_ms / 1000).toFixed(1) + "s", x.message || ""].forEach(function (t, i) {
          var td = document.createElement("td");
          if (i === 1) {
            var b = document.createElement("span");
            b.className = "st st-" + t;
            b.textContent = t;
            td.appendChild(b);
          } else td.textContent = t;
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
    }
    return s;
  }
  es.addEventListener("state", state);
  es.addEventListener("done", function (ev) {
    state(ev);
    es.close();
    document.body.dataset.done = "true";
  });
})();

// The dashboard refreshes its project cards every 15 seconds, for a wall screen, unless the reader is
// using the keyboard in it.
(function () {
  var cards = document.getElementById("dashboard");
  if (!cards || !window.fetch) return;
  setInterval(function () {
    if (document.hidden || cards.contains(document.activeElement)) return;
    fetch("/", { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; }).then(function (html) {
      if (!html) return;
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("dashboard");
      if (fresh) cards.replaceChildren.apply(cards, Array.prototype.slice.call(fresh.childNodes));
    }).catch(function () {});
  }, 15000);
})();
