// Gallery and study pages: filters and synchronised looping videos. No external code. It is inlined into
// pages shown to study participants, so it must not name the project or any method.
(function () {
  "use strict";
  var KEY = "gallery-hidden-methods";

  function hiddenMethods() {
    try { return new Set(JSON.parse(localStorage.getItem(KEY) || "[]")); } catch (e) { return new Set(); }
  }
  function saveHidden(set) {
    try { localStorage.setItem(KEY, JSON.stringify(Array.from(set))); } catch (e) { /* file:// may forbid it */ }
  }
  function applyMethodFilter(hidden) {
    document.querySelectorAll("[data-method]").forEach(function (el) { el.hidden = hidden.has(el.dataset.method); });
    document.querySelectorAll("input.method-filter").forEach(function (cb) { cb.checked = !hidden.has(cb.value); });
  }
  function bindMethodFilter() {
    var hidden = hiddenMethods();
    document.querySelectorAll("input.method-filter").forEach(function (cb) {
      cb.addEventListener("change", function () {
        if (cb.checked) { hidden.delete(cb.value); } else { hidden.add(cb.value); }
        saveHidden(hidden);
        applyMethodFilter(hidden);
      });
    });
    applyMethodFilter(hidden);
  }
  function bindActionFilter() {
    var box = document.getElementById("action-filter");
    if (box) {
      box.addEventListener("input", function () {
        var q = box.value.toLowerCase();
        document.querySelectorAll("[data-action]").forEach(function (el) {
          var text = (el.dataset.action + " " + (el.dataset.prompt || "")).toLowerCase();
          el.hidden = q !== "" && text.indexOf(q) < 0;
        });
      });
    }
    var select = document.getElementById("action-select");
    if (select) { select.addEventListener("change", function () { location.href = select.value; }); }
  }

  // Every video of a group starts at t = 0 together once all can play, and restarts together once all
  // have ended (shorter clips hold their last frame). A video the browser cannot play becomes its GIF.
  function syncGroup(group) {
    var videos = Array.prototype.slice.call(group.querySelectorAll("video"));
    var live = new Set(videos), ended = new Set(), waiting = videos.length, paused = false;
    function startAll() {
      ended.clear();
      live.forEach(function (v) {
        v.currentTime = 0;
        if (!paused) { var p = v.play(); if (p) { p.catch(function () {}); } }
      });
    }
    function settle(v) {
      if (v._settled) { return; }
      v._settled = true;
      waiting -= 1;
      if (waiting === 0) { startAll(); }
    }
    function toGif(v) {
      if (!live.has(v)) { return; }
      live.delete(v);
      var img = document.createElement("img");
      img.src = v.dataset.gif;
      img.alt = v.getAttribute("aria-label") || "";
      img.className = "gif-fallback";
      v.replaceWith(img);
      settle(v);
    }
    videos.forEach(function (v) {
      v.pause();
      v.loop = false;
      v.autoplay = false;
      // data-failed is set by the <source> element's inline onerror, which may fire before this script runs
      if (!v.canPlayType("video/mp4") || v.dataset.failed || v.error) {
        toGif(v);
        return;
      }
      v.querySelectorAll("source").forEach(function (s) { s.addEventListener("error", function () { toGif(v); }); });
      v.addEventListener("error", function () { toGif(v); });
      if (v.readyState >= 3) { settle(v); } else { v.addEventListener("canplay", function () { settle(v); }, { once: true }); }
      v.addEventListener("ended", function () {
        ended.add(v);
        var all = true;
        live.forEach(function (x) { if (!ended.has(x)) { all = false; } });
        if (all) { startAll(); }
      });
      v.addEventListener("click", function () {
        paused = !paused;
        live.forEach(function (x) {
          if (paused) { x.pause(); } else if (!ended.has(x)) { var p = x.play(); if (p) { p.catch(function () {}); } }
        });
      });
    });
  }

  bindMethodFilter();
  bindActionFilter();
  document.querySelectorAll(".sync-group").forEach(syncGroup);
})();
