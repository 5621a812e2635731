// Keyboard shortcuts for reviewers doing hundreds of punches a day:
// j / k next and previous punch, r focus the reason, a approve, x reject.
// Typing in a field is never taken as a shortcut.
"use strict";
document.addEventListener("keydown", (event) => {
  const selected = document.getElementById("selected");
  if (!selected || event.ctrlKey || event.metaKey || event.altKey) return;
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName);
  if (typing) {
    if (event.key === "Escape") document.activeElement.blur();
    return;
  }
  const reason = document.getElementById("reason");
  const go = (url) => { if (url) window.location.assign(url); };
  const decide = (button) => {
    if (!reason.value.trim()) {
      reason.focus();
      reason.setAttribute("aria-invalid", "true");
      return;
    }
    document.getElementById(button).click();
  };
  switch (event.key) {
    case "j": go(selected.dataset.next); break;
    case "k": go(selected.dataset.previous); break;
    case "r": event.preventDefault(); reason.focus(); break;
    case "a": decide("approve"); break;
    case "x": decide("reject"); break;
    default: return;
  }
});
