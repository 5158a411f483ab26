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
