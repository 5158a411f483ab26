// Shifts: keep "starts in …" countdowns ticking. The server renders the text;
// this only refreshes it, so the page reads the same without JavaScript.
(() => {
  const lang = document.documentElement.lang || "en";
  // Japanese writes a duration without spaces or commas: 12時間45分, as the server does.
  const japanese = lang.startsWith("ja");
  const units = [
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ].map(([unit, size]) => [new Intl.NumberFormat(lang, { style: "unit", unit, unitDisplay: "long" }), size]);

  function describe(seconds) {
    if (seconds <= 0) return null;
    const parts = [];
    let rest = seconds;
    for (const [format, size] of units) {
      const n = Math.floor(rest / size);
      if (n > 0) {
        parts.push(format.format(n));
        rest -= n * size;
      }
      if (parts.length === 2) break;
    }
    if (!parts.length) parts.push(units[2][0].format(0));
    return japanese ? parts.join("").replace(/\s+/g, "") : parts.join(", ");
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll("time[data-countdown]").forEach((el) => {
      const text = describe(Math.round((Date.parse(el.getAttribute("datetime")) - now) / 1000));
      if (text) el.textContent = text;
    });
  }

  tick();
  setInterval(tick, 30000);
})();

// Scheduling: the person picked as trainee cannot be their own primary, so
// their name is greyed out in the primary list. The server refuses it anyway.
(() => {
  const trainee = document.querySelector("select[name=trainee]");
  const primary = document.querySelector("select[name=primary]");
  if (!trainee || !primary) return;
  function sync() {
    for (const option of primary.options) {
      option.disabled = option.value !== "" && option.value === trainee.value;
    }
    if (primary.selectedOptions[0] && primary.selectedOptions[0].disabled) primary.value = "";
  }
  trainee.addEventListener("change", sync);
  sync();
})();
