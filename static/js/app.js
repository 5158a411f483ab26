// Site-wide keyboard shortcut: "/" focuses the runbook search box from any page.
document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return;
  const box = document.querySelector("[data-search-shortcut]");
  if (!box) return;
  event.preventDefault();
  box.focus();
  box.select();
});

// Feed links and other read-only fields: a click selects the whole URL, and a
// Copy button (shown only where the clipboard can be written) copies it.
document.querySelectorAll("[data-select-on-focus]").forEach((field) => {
  field.addEventListener("focus", () => field.select());
  field.addEventListener("click", () => field.select());
});
if (navigator.clipboard) {
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        button.textContent = button.dataset.copiedLabel || "Copied";
      } catch {
        field.select();
      }
      setTimeout(() => { button.textContent = label; }, 1500);
    });
  });
}

// After an htmx swap the keyboard stays where it was. The control acted on is
// found again in the new HTML (by its id or its data-focus-key); when it is
// gone (a "Mark done" that became "Undo…", a move button now disabled), the
// first control of its item (data-focus-scope), else the item itself, takes
// the focus. What changed is read out from the swapped content's
// [data-announce] through the page's polite live region.
(() => {
  const FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  let acted = null;

  const usable = (el) => el && !el.disabled && el.getClientRects().length > 0;

  document.addEventListener("htmx:beforeRequest", (event) => {
    const source = event.detail.elt;
    const active = document.activeElement;
    const control = active && active !== document.body && source.contains(active) ? active : source;
    const scope = control.closest("[data-focus-scope]");
    const region = event.detail.target;
    acted = {
      id: control.id,
      key: control.dataset.focusKey || "",
      scope: scope ? scope.id : "",
      // An outerHTML swap replaces the target: its id finds the new one.
      region: region && region.id ? region.id : "",
    };
  });

  document.addEventListener("htmx:afterSettle", (event) => {
    const swapped = (acted && acted.region && document.getElementById(acted.region)) || event.detail.target;
    const announcement = swapped && swapped.isConnected && (swapped.matches("[data-announce]") ? swapped : swapped.querySelector("[data-announce]"));
    if (announcement) {
      const live = document.getElementById("announcer");
      if (live) {
        // Emptied first, so the same words said twice are read twice.
        live.textContent = "";
        setTimeout(() => { live.textContent = announcement.textContent.trim().replace(/\s+/g, " "); }, 50);
      }
    }
    if (!acted) return;
    const { id, key, scope } = acted;
    acted = null;
    let next = (id && document.getElementById(id)) || (key && document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`));
    if (!usable(next)) {
      const item = scope && document.getElementById(scope);
      next = item ? [...item.querySelectorAll(FOCUSABLE)].find(usable) || item : null;
    }
    if (!next || next === document.activeElement) return;
    if (!next.matches(FOCUSABLE)) next.setAttribute("tabindex", "-1");
    next.focus();
  });
})();
