// Re-reads the panels every few seconds while the tab is visible; nothing is fetched from the network.
"use strict";
(function () {
  const seconds = Number(document.body.dataset.refresh) || 3;
  const status = document.getElementById("status");
  const panels = document.getElementById("panels");
  async function refresh() {
    if (!document.hidden) {
      try {
        const response = await fetch("panels", { cache: "no-store" });
        if (!response.ok) throw new Error(response.status + " " + (await response.text()));
        const open = new Set([...panels.querySelectorAll("details[open] summary")].map((s) => s.textContent));
        panels.innerHTML = await response.text();
        panels.querySelectorAll("details summary").forEach((s) => { s.parentElement.open = open.has(s.textContent); });
        status.textContent = "updated " + new Date().toLocaleTimeString();
        status.classList.remove("error");
      } catch (error) {
        status.textContent = "cannot refresh: " + error.message;
        status.classList.add("error");
      }
    }
    setTimeout(refresh, seconds * 1000);
  }
  setTimeout(refresh, seconds * 1000);
})();
