// The theme toggle: system → light → dark → system. The choice lives in localStorage and on
// <html data-theme>; charts listen for `seismo:theme` to redraw in the new colours.
(function () {
  "use strict";
  const ORDER = ["system", "light", "dark"];
  const button = document.getElementById("theme-toggle");

  function current() { return document.documentElement.dataset.theme || "system"; }

  function show() {
    if (!button) return;
    const theme = current();
    button.querySelector(".label").textContent = theme;
    button.setAttribute("aria-label", `Colour theme: ${theme} (change)`);
  }

  function set(theme) {
    if (theme === "system") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    try {
      if (theme === "system") localStorage.removeItem("seismo-theme");
      else localStorage.setItem("seismo-theme", theme);
    } catch (e) { /* private mode: the choice lasts for this page */ }
    show();
    document.dispatchEvent(new CustomEvent("seismo:theme", { detail: { theme } }));
  }

  if (button) button.addEventListener("click", () => set(ORDER[(ORDER.indexOf(current()) + 1) % ORDER.length]));
  if (window.matchMedia) {
    window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
      if (current() === "system") document.dispatchEvent(new CustomEvent("seismo:theme", { detail: { theme: "system" } }));
    });
  }
  show();
  window.SeismoTheme = { set, get current() { return current(); } };
})();
