// The upload form: choosing a file fills an empty title with the file's name, as the server does when the
// title is left empty (kb.publishing.title_from_filename). A title the person typed is never replaced.
// Without this script nothing is lost: the server gives the same title when the form is saved.
(function () {
  "use strict";
  function titleFrom(name) {
    var base = name.replace(/\\/g, "/").split("/").pop().replace(/^\.+/, "");
    var stem = base.replace(/\.[A-Za-z0-9]{1,10}$/, "") || base;
    // Underscores, and dashes between two words, read as spaces; a code such as НВ-250 keeps its dash.
    stem = stem.replace(/_/g, " ").replace(/(?<=\p{L})[-‐–—](?=\p{L})/gu, " ");
    return stem.split(/\s+/).join(" ").trim().slice(0, 300).trim();
  }
  document.addEventListener("DOMContentLoaded", function () {
    var file = document.querySelector("form input[type=file][name=file]");
    var title = file && file.form && file.form.elements.namedItem("title");
    if (!title) return;
    var filled = "";
    file.addEventListener("change", function () {
      if (!file.files || !file.files.length) return;
      if (title.value.trim() && title.value !== filled) return;
      filled = titleFrom(file.files[0].name);
      title.value = filled;
    });
  });
})();
