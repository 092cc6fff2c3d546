// Small touches on the incident page; the page works the same without them.
(function () {
  "use strict";
  // Fill the update text from the policy template of the chosen status, unless it was edited.
  const form = document.getElementById("update-form");
  const templatesElement = document.getElementById("update-templates");
  if (form && templatesElement) {
    const templates = JSON.parse(JSON.parse(templatesElement.textContent));
    const status = form.querySelector('select[name="status"]');
    const body = form.querySelector('textarea[name="body"]');
    let lastFilled = body.value;
    status.addEventListener("change", () => {
      if (body.value === lastFilled || body.value.trim() === "") {
        body.value = templates[status.value] || "";
        lastFilled = body.value;
      }
    });
  }
})();
