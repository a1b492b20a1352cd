// Mixdown dashboard: keeps a page's live part fresh and asks before bulk
// actions. Served from the binary; the page allows no inline script.
"use strict";

(function () {
  // A form with data-confirm asks first (retry or cancel every job of a code).
  document.addEventListener("submit", function (event) {
    const question = event.target.dataset.confirm;
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  const live = document.getElementById("live");
  if (!live) {
    return;
  }
  const every = Number(live.dataset.refreshMs) || 2000;
  let busy = false;

  // The page is fetched again and its live part swapped in, unless the tab
  // is hidden or the operator is in the middle of a form.
  async function refresh() {
    const focused = document.activeElement;
    if (busy || document.hidden || (focused && focused !== document.body && live.contains(focused))) {
      return;
    }
    busy = true;
    try {
      const answer = await fetch(window.location.href, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (!answer.ok) {
        document.body.dataset.live = "stale";
        return;
      }
      const page = new DOMParser().parseFromString(await answer.text(), "text/html");
      const fresh = page.getElementById("live");
      if (fresh) {
        live.replaceChildren(...Array.from(fresh.childNodes, (n) => document.adoptNode(n)));
        document.body.dataset.live = "fresh";
      } else {
        // Signed out meanwhile: the answer is the sign-in page.
        document.body.dataset.live = "stale";
      }
    } catch (_) {
      document.body.dataset.live = "stale";
    } finally {
      busy = false;
    }
  }

  window.setInterval(refresh, every);
})();
