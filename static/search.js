// Long search texts go in the body of a POST, not in the URL: a pasted paragraph never makes "414 URI Too Long".
(function () {
  "use strict";
  var LIMIT = 1500; // characters of the query beyond which the form posts (URLs stay short and shareable below it)
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-long-post")) return;
    var q = form.querySelector("[name=q]");
    if (!q || encodeURIComponent(q.value).length <= LIMIT) return;
    form.method = "post";
    if (!form.querySelector("input[name=csrf_token]")) {
      var token = document.createElement("input");
      token.type = "hidden";
      token.name = "csrf_token";
      token.value = form.getAttribute("data-csrf");
      form.appendChild(token);
    }
  });
})();
