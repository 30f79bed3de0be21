// The import form: refuse files over the size limit before sending them, then send the form with the
// page's CSRF token in a header (the server then reads the files as they arrive, with no smaller limit)
// and show the report in place. Without this script the form posts as usual.
"use strict";
(function () {
  const form = document.getElementById("upload-form");
  const status = document.getElementById("upload-status");
  if (!form || !status || !window.fetch || !window.FormData) return;
  const maxBytes = Number(form.dataset.maxBytes || "0");
  const maxFiles = Number(form.dataset.maxFiles || "0");
  const meta = document.querySelector('meta[name="csrf-token"]');

  function say(text, isError) {
    status.textContent = "";
    const p = document.createElement("p");
    p.className = isError ? "error" : "ok";
    if (isError) p.setAttribute("role", "alert");
    p.textContent = text;
    status.appendChild(p);
  }

  form.addEventListener("submit", async function (event) {
    const input = form.querySelector('input[type="file"]');
    const files = input && input.files ? Array.from(input.files) : [];
    const total = files.reduce(function (sum, f) { return sum + f.size; }, 0);
    event.preventDefault();
    if (!files.length) { say("请选择要导入的文件。 Choose at least one file to import.", true); return; }
    if (maxFiles && files.length > maxFiles) {
      say("一次最多 " + maxFiles + " 个文件。 At most " + maxFiles + " files at once.", true); return;
    }
    if (maxBytes && total > maxBytes) {
      const limit = form.dataset.maxText || (maxBytes + " bytes");
      const got = (total / 1048576).toFixed(1) + " MB";
      say("文件共 " + got + "，超过 " + limit + " 的上限：请拆分文件。 The files come to " + got +
          ", over the " + limit + " limit: split them.", true);
      return;
    }
    say("正在导入… Importing…", false);
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "X-CSRF-Token": meta ? meta.content : "" },
      });
      const html = await response.text();
      const page = new DOMParser().parseFromString(html, "text/html");
      const newStatus = page.getElementById("upload-status");
      const newResult = page.getElementById("upload-result");
      const result = document.getElementById("upload-result");
      if (!newStatus || !newResult || !result) {
        say("导入失败 Import failed (HTTP " + response.status + ")", true); return;
      }
      status.replaceChildren.apply(status, Array.from(newStatus.childNodes));
      result.replaceChildren.apply(result, Array.from(newResult.childNodes));
      const report = document.getElementById("h-report");
      if (report) report.focus();
      if (response.ok) form.reset();
    } catch (err) {
      say("网络错误，未导入。 Network error: nothing was imported.", true);
    } finally {
      if (button) button.disabled = false;
    }
  });
})();
