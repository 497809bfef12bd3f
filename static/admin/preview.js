// The dashboard's preview frame (app/admin/banner.py): the real widget shows a draft, but stores
// nothing where the site's own pages on this origin would read it, and sends nothing anywhere.
// Loaded before the widget.
(function () {
  "use strict";
  var SINK = "https://preview.invalid/";
  var memory = {};
  var proto = window.Storage && window.Storage.prototype;
  if (proto) {
    var get = proto.getItem, set = proto.setItem, remove = proto.removeItem;
    var ours = function (key) { return String(key).indexOf("opsiq.") === 0; };
    proto.getItem = function (key) {
      return ours(key) ? (key in memory ? memory[key] : null) : get.call(this, key);
    };
    proto.setItem = function (key, value) {
      if (ours(key)) memory[key] = String(value); else set.call(this, key, value);
    };
    proto.removeItem = function (key) {
      if (ours(key)) delete memory[key]; else remove.call(this, key);
    };
  }
  var realFetch = window.fetch;
  window.fetch = function (url, options) {
    if (String(url).indexOf(SINK) === 0) {
      var body = JSON.stringify({ record_id: "preview", receipt: null, records: [], erased: 0 });
      return Promise.resolve(new Response(body, { status: 200, headers: { "Content-Type": "application/json" } }));
    }
    return realFetch.call(window, url, options);
  };
  if (navigator.sendBeacon) {
    var beacon = navigator.sendBeacon.bind(navigator);
    navigator.sendBeacon = function (url, data) { return String(url).indexOf(SINK) === 0 || beacon(url, data); };
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (document.body.getAttribute("data-view") === "dialog" && window.opsiqConsent) window.opsiqConsent.show();
  });
})();
