// Every page: error fragments (4xx/5xx answered with HX-Retarget: #flash) are shown, which
// htmx 2 does not do by default; the flash is cleared when the next request starts.
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (evt) {
    const xhr = evt.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget")) {
      evt.detail.shouldSwap = true;
      evt.detail.isError = false;
    }
  });
  document.addEventListener("htmx:beforeRequest", function () {
    const flash = document.getElementById("flash");
    if (flash) flash.innerHTML = "";
  });
})();
