// The page viewer: the arrow keys page through the document (the links do the same without this script).
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var link = null;
    if (event.key === "ArrowLeft") link = document.querySelector("[data-viewer] [data-prev]");
    if (event.key === "ArrowRight") link = document.querySelector("[data-viewer] [data-next]");
    if (link) {
      event.preventDefault();
      window.location.href = link.href;
    }
  });
})();
