// Datasets pages: upload progress and the size limit checked before sending.
(function () {
  "use strict";

  function human(bytes) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return (i === 0 ? bytes : bytes.toFixed(1)) + " " + units[i];
  }

  const form = document.getElementById("upload-form");
  if (!form) return;
  const bar = document.getElementById("upload-progress");
  const status = document.getElementById("upload-status");
  const fileInput = document.getElementById("upload-file");
  const maxBytes = Number(form.dataset.maxBytes);
  let uploading = false;

  form.addEventListener("htmx:beforeRequest", function (evt) {
    const file = fileInput.files[0];
    if (file && file.size > maxBytes) {
      evt.preventDefault();
      status.textContent = file.name + " is " + human(file.size) +
        ": larger than the upload limit of " + human(maxBytes) + ".";
      return;
    }
    document.getElementById("flash").innerHTML = "";
    uploading = true;
    bar.hidden = false;
    bar.value = 0;
    status.textContent = "Uploading " + (file ? file.name : "") + "…";
  });

  form.addEventListener("htmx:xhr:progress", function (evt) {
    const d = evt.detail;
    if (!uploading || !d.lengthComputable || !d.total) return;
    const percent = Math.floor((100 * d.loaded) / d.total);
    bar.value = percent;
    status.textContent = percent < 100
      ? "Uploading: " + percent + "% (" + human(d.loaded) + " of " + human(d.total) + ")"
      : "Uploaded: checking the last rows and saving…";
  });

  form.addEventListener("htmx:xhr:loadend", function () { uploading = false; });

  form.addEventListener("htmx:afterRequest", function (evt) {
    // By status: an HX-Redirect answer leaves detail.successful unset, and error fragments
    // are swapped (see above), which htmx then counts as a success.
    const code = evt.detail.xhr.status;
    uploading = false;
    if (code >= 200 && code < 300) {
      bar.value = 100;
      status.textContent = "Done: opening the dataset…";
    } else {
      bar.hidden = true;
      status.textContent = code
        ? "The upload was refused: see the problems above."
        : "The upload failed: the server could not be reached.";
    }
  });
})();
