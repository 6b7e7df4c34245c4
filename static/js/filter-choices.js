// A search box above a long list of checkboxes (the checkbox_list macro of _forms.html):
// typing narrows the list to the choices whose label holds every word typed. Ticked choices
// always stay in sight, so narrowing never hides what will be saved. Without this file the
// box stays hidden and every choice is listed.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll("[data-filter-list]")) {
    const list = document.getElementById(box.dataset.filterList);
    const input = box.querySelector("input[type=search]");
    const status = box.querySelector("[aria-live]");
    if (!list || !input) continue;
    const items = Array.from(list.querySelectorAll("li"));

    const apply = () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const item of items) {
        const text = item.textContent.toLowerCase();
        const ticked = item.querySelector("input:checked") !== null;
        const visible = ticked || words.every((word) => text.includes(word));
        item.hidden = !visible;
        if (visible) shown += 1;
      }
      if (status) {
        status.textContent = words.length
          ? `Showing ${shown} of ${items.length} (ticked ones always shown).`
          : "";
      }
    };

    input.addEventListener("input", apply);
    // Enter in the search box would send the whole form: it only narrows the list.
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") event.preventDefault();
    });
    box.hidden = false;
  }
});
