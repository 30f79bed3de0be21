// The curation page: while a candidate trains, poll its state and say it in the live region; when it is
// done, reload so the comparison shows. Without this script the page has a Refresh link.
"use strict";
(function () {
  const box = document.getElementById("train-status");
  if (!box || !window.fetch) return;
  const running = ["queued", "validating", "training", "training-baseline", "evaluating"];
  if (running.indexOf(box.dataset.state) < 0) return;
  const labels = {
    queued: "排队中 queued", validating: "校验数据 validating the data", training: "训练中 training",
    "training-baseline": "训练对比基线 training the baseline", evaluating: "评估中 evaluating",
    ready: "完成 ready", failed: "失败 failed"
  };
  function say(text) {
    box.textContent = "";
    const p = document.createElement("p");
    p.textContent = text;
    box.appendChild(p);
  }
  async function poll() {
    try {
      const resp = await fetch("/api/admin/curation/status", { credentials: "same-origin" });
      if (!resp.ok) throw new Error(String(resp.status));
      const data = await resp.json();
      const c = data.candidate || {};
      let line = "候选模型 Candidate " + (c.id || "") + ": " + (labels[c.state] || c.state || "");
      if (c.progress && c.progress.detail) line += " — " + c.progress.detail;
      if (c.error) line += " — " + c.error;
      say(line);
      if (data.running) { window.setTimeout(poll, 2000); return; }
      if (c.state === "ready") window.location.assign("/admin/curation?notice=" +
        encodeURIComponent("候选模型 " + c.id + " 已训练完成 Candidate " + c.id + " is trained"));
    } catch (err) {
      say("无法读取训练状态，请刷新页面。 Could not read the training state; reload the page.");
    }
  }
  window.setTimeout(poll, 1500);
})();
