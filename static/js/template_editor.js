// Checklist item form: show the fields that mean something for the kind
// picked (a count for shift items, a runbook for reading), and the new-section
// name only when "New section…" is chosen. Without JavaScript every field shows
// and the server ignores what does not apply.
(() => {
  const form = document.querySelector(".template-item-form");
  if (!form) return;
  const kind = form.querySelector("select[name=kind]");
  const section = form.querySelector("select[name=section]");
  const shiftKinds = form.dataset.shiftKinds.split(" ");
  const show = (selector, visible) => {
    form.querySelectorAll(selector).forEach((el) => { el.hidden = !visible; });
  };
  function sync() {
    show("[data-for-shifts]", shiftKinds.includes(kind.value));
    show("[data-for-reading]", kind.value === form.dataset.readKind);
    show("[data-new-section]", section.value === "__new__");
  }
  kind.addEventListener("change", sync);
  section.addEventListener("change", sync);
  sync();
})();
