// Show the suggested severity as the declare form is filled, using the same matrix and
// criteria the server applies when the form is submitted.
(function () {
  "use strict";
  const form = document.getElementById("declare-form");
  const dataElement = document.getElementById("severity-data");
  if (!form || !dataElement) {
    return;
  }
  const data = JSON.parse(JSON.parse(dataElement.textContent));
  const output = document.getElementById("severity-suggestion");

  function checkedValue(name) {
    const input = form.querySelector(`input[name="${name}"]:checked`);
    return input ? input.value : null;
  }

  function suggest() {
    const impact = checkedValue("impact");
    const urgency = checkedValue("urgency");
    const candidates = [];
    const reasons = [];
    if (impact && urgency) {
      const key = data.matrix[`${impact}:${urgency}`];
      if (key) {
        candidates.push(key);
        reasons.push(`impact ${impact} x urgency ${urgency}`);
      }
    }
    form.querySelectorAll('input[name="criteria"]:checked').forEach((box) => {
      const key = data.criteria[box.value];
      if (key) {
        candidates.push(key);
        reasons.push(box.parentElement.textContent.trim());
      }
    });
    if (candidates.length === 0) {
      output.textContent = "Choose impact and urgency to see the suggested severity.";
      return;
    }
    candidates.sort((a, b) => data.levels[a] - data.levels[b]);
    output.textContent = `Suggested: ${candidates[0]} (from ${reasons.join("; ")}).`;
  }

  form.addEventListener("change", suggest);
  suggest();
})();
