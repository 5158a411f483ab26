// Runbook pages: a copy button on every code block. Reading needs no script;
// this only adds buttons that copy a command with one tap.
(() => {
  const body = document.querySelector(".runbook-body");
  if (!body || !navigator.clipboard) return;
  const label = body.dataset.copyLabel || "Copy";
  const copied = body.dataset.copiedLabel || "Copied";
  for (const pre of body.querySelectorAll("pre")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button";
    button.textContent = label;
    button.addEventListener("click", async () => {
      const code = pre.querySelector("code") || pre;
      try {
        await navigator.clipboard.writeText(code.innerText.replace(/\n$/, ""));
        button.textContent = copied;
        button.dataset.copied = "";
        setTimeout(() => {
          button.textContent = label;
          delete button.dataset.copied;
        }, 1500);
      } catch {
        button.textContent = "✕";
      }
    });
    let holder = pre.closest(".highlight");
    if (!holder) {
      holder = document.createElement("div");
      holder.className = "code-block";
      pre.before(holder);
      holder.append(pre);
    }
    holder.append(button);
  }
})();

// The contents start closed so that a phone shows the steps first; a wide
// screen has room for them beside the runbook.
(() => {
  const contents = document.querySelector(".runbook-toc details");
  if (contents && window.matchMedia("(min-width: 64rem)").matches) contents.open = true;
})();
