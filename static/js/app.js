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
