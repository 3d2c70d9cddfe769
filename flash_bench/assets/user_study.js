// Standalone user-study form: on submit, show and offer the answers as one row of an MTurk-style results CSV.
(function () {
  "use strict";
  var form = document.getElementById("hit");
  if (!form) { return; }
  function cell(text) { return /[",\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var data = new FormData(form);
    var row = [data.get("WorkerId") || "", form.dataset.pair, data.get("q1") || "", data.get("q2") || ""];
    var text = "WorkerId,Input.pair_id,Answer.q1,Answer.q2\n" + row.map(cell).join(",") + "\n";
    var box = document.getElementById("answer");
    box.value = text;
    box.hidden = false;
    var link = document.getElementById("download");
    link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
    link.hidden = false;
  });
})();
