// On a phone a list table stacks each row's cells; each cell then says which column it is (its header's words),
// unless the template already labelled it. Without this script the cells simply stack unlabelled.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table.list").forEach(function (table) {
      var headers = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.replace(/[↑↓]/g, "").trim();
      });
      if (!headers.length) return;
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, index) {
          if (index > 0 && headers[index] && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", headers[index]);
        });
      });
    });
  });
})();
