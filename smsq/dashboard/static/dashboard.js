// smsq dashboard: moves the bars. Every POLL_MS it asks /progress.json for the campaigns on
// the page that have not ended and redraws their bars, counts, rate and time left. No
// library, nothing fetched from elsewhere. Without script the pages still show the numbers
// as they were when loaded, and every button still works (they are plain forms).
"use strict";

(function () {
  const POLL_MS = 1500;
  const RATE_WINDOW_MS = 15000; // the rate shown is over the last 15 s of polls
  const ENDED = new Set(["completed", "cancelled", "failed"]);
  const samples = new Map(); // campaign id -> [[time_ms, done], ...]

  function num(n) { return Number(n).toLocaleString("en-US"); }

  // The same words as smsq/dashboard/progress.py: duration_label and rate_label.
  function duration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "";
    const whole = Math.round(seconds);
    if (whole < 60) return whole + "s";
    const minutes = Math.floor(whole / 60), secs = whole % 60;
    if (minutes < 60) return minutes + "m " + String(secs).padStart(2, "0") + "s";
    return Math.floor(minutes / 60) + "h " + String(minutes % 60).padStart(2, "0") + "m";
  }
  function rate(perS) {
    if (!perS) return "";
    return (perS >= 10 ? num(Math.round(perS)) : perS.toFixed(1)) + "/s";
  }

  function direct(el, selector) {
    // The element's own fields, not those of the account bars nested in it.
    const own = el.closest("[data-account]");
    return Array.from(el.querySelectorAll(selector)).filter(
      (found) => found.closest("[data-account]") === own);
  }

  function setText(el, selector, text) {
    for (const found of direct(el, selector)) found.textContent = text;
  }

  function drawBar(el, bar) {
    const [box] = direct(el, "[data-bar]");
    if (!box) return;
    box.setAttribute("aria-valuenow", bar.done);
    box.setAttribute("aria-valuemax", bar.total);
    box.setAttribute("aria-label", bar.label + ": " + bar.done + " of " + bar.total + " done");
    let x = 0;
    for (const rect of box.querySelectorAll("rect[data-seg]")) {
      const width = bar.widths[rect.dataset.seg] || 0;
      rect.setAttribute("x", x.toFixed(3));
      rect.setAttribute("width", width.toFixed(3));
      x += width;
    }
    setText(el, "[data-field=percent]", Math.floor(bar.percent) + "%");
    setText(el, "[data-field=total]", num(bar.total));
    for (const [kind, count] of Object.entries(bar.segments)) {
      setText(el, "[data-count-seg=" + kind + "]", num(count));
    }
  }

  // Numbers finished per second over the last polls, once they span 3 s; else the server's
  // average since the start (which counts the minutes a campaign spent paused).
  function recentRate(c) {
    const now = Date.now();
    const seen = (samples.get(c.id) || []).filter(([t]) => now - t <= RATE_WINDOW_MS);
    seen.push([now, c.bar.done]);
    samples.set(c.id, seen);
    const [t0, d0] = seen[0];
    if (now - t0 >= 3000) return (c.bar.done - d0) / ((now - t0) / 1000);
    return c.rate_per_s;
  }

  function draw(el, c) {
    drawBar(el, c.bar);
    const perS = recentRate(c);
    const running = c.state === "running";
    const left = running && perS > 0 ? (c.bar.total - c.bar.done) / perS : null;
    setText(el, "[data-field=rate]", running ? rate(perS) : "");
    setText(el, "[data-field=left]", left === null ? "" : duration(left) + " left");
    for (const badge of direct(el, "[data-field=state]")) {
      badge.textContent = c.state;
      badge.className = "badge state-" + c.state;
    }
    for (const reason of direct(el, "[data-field=reason]")) {
      reason.textContent = c.reason || "";
      reason.hidden = !c.reason;
    }
    for (const account of c.accounts) {
      const sub = el.querySelector("[data-account=\"" + CSS.escape(account.label) + "\"]");
      if (sub) drawBar(sub, account);
    }
    for (const [state, count] of Object.entries(c.recipients)) {
      for (const tile of document.querySelectorAll("[data-count=\"" + state + "\"]")) {
        tile.textContent = num(count);
      }
    }
  }

  function live() {
    return Array.from(document.querySelectorAll("[data-campaign]"))
      .filter((el) => !ENDED.has(el.dataset.state));
  }

  async function poll() {
    const shown = live();
    if (!shown.length) return; // everything on the page has ended: nothing will move
    const ids = shown.map((el) => el.dataset.campaign).join(",");
    let delay = POLL_MS;
    try {
      const answer = await fetch("/progress.json?ids=" + ids, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (answer.status === 401) {
        window.location.assign("/login?next=" + encodeURIComponent(location.pathname));
        return;
      }
      const body = await answer.json();
      for (const c of body.campaigns) {
        const el = document.querySelector("[data-campaign=\"" + c.id + "\"]");
        if (!el) continue;
        const was = el.dataset.state;
        draw(el, c);
        el.dataset.state = c.state;
        // On a campaign's page its buttons depend on its state: show the right ones.
        if (document.body.dataset.page === "campaign" && was !== c.state) {
          window.location.reload();
          return;
        }
      }
    } catch (err) {
      delay = POLL_MS * 4; // the server is away (restarting?): ask less often
    }
    window.setTimeout(poll, delay);
  }

  function confirmForms() {
    for (const form of document.querySelectorAll("form[data-confirm]")) {
      form.addEventListener("submit", (event) => {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    confirmForms();
    window.setTimeout(poll, POLL_MS);
  });
})();
