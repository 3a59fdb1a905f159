// The import page: files and folders dropped on the drop zone go into its file input, as if chosen there; a
// dropped folder's files keep their folder in their name ("Folder/file.pdf"), as the folder input sends them.
// Without this script nothing is lost: the inputs take files, a ZIP or a folder on their own.
(function () {
  "use strict";

  function readAll(reader) {
    // readEntries answers in batches (100 at a time in Chromium) until it answers an empty one.
    return new Promise(function (resolve) {
      var all = [];
      (function next() {
        reader.readEntries(function (batch) {
          if (!batch.length) return resolve(all);
          all = all.concat(Array.prototype.slice.call(batch));
          next();
        }, function () { resolve(all); });
      })();
    });
  }

  function walk(entry, folder) {
    if (entry.isFile) {
      return new Promise(function (resolve) {
        entry.file(function (file) { resolve([{ file: file, path: folder + file.name }]); }, function () { resolve([]); });
      });
    }
    if (entry.isDirectory) {
      return readAll(entry.createReader()).then(function (entries) {
        return Promise.all(entries.map(function (child) { return walk(child, folder + entry.name + "/"); }));
      }).then(function (lists) { return [].concat.apply([], lists); });
    }
    return Promise.resolve([]);
  }

  function dropped(transfer) {
    var items = Array.prototype.slice.call(transfer.items || []);
    var entries = items.map(function (item) { return item.webkitGetAsEntry ? item.webkitGetAsEntry() : null; });
    if (!entries.length || entries.some(function (entry) { return !entry; })) {
      return Promise.resolve(Array.prototype.map.call(transfer.files, function (file) { return { file: file, path: file.name }; }));
    }
    return Promise.all(entries.map(function (entry) { return walk(entry, ""); })).then(function (lists) {
      return [].concat.apply([], lists);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var zone = document.querySelector("[data-drop-zone]");
    var input = zone && zone.querySelector("input[type=file]");
    if (!input || typeof DataTransfer === "undefined") return;
    zone.classList.add("can-drop");
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      dropped(event.dataTransfer).then(function (found) {
        var chosen = new DataTransfer();
        Array.prototype.forEach.call(input.files, function (file) { chosen.items.add(file); });
        found.forEach(function (one) {
          var file = one.path === one.file.name ? one.file
            : new File([one.file], one.path, { type: one.file.type, lastModified: one.file.lastModified });
          chosen.items.add(file);
        });
        input.files = chosen.files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
      });
    });
  });
})();
