// Record page: the Cite button copies the Chicago-style note shown on the page.
(function () {
  "use strict";
  const button = document.getElementById("cite-button");
  const note = document.getElementById("note");
  const status = document.getElementById("cite-status");
  const back = document.getElementById("back-link");

  // Back to the conversation the reader came from (its URL carries ?c=), not a blank chat.
  if (back && document.referrer.startsWith(location.origin + "/") && new URL(document.referrer).pathname === "/") {
    back.href = document.referrer;
    back.textContent = "← Back to the conversation";
  }

  function selectNote() {
    const range = document.createRange();
    range.selectNodeContents(note);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  button.addEventListener("click", async function () {
    try {
      await navigator.clipboard.writeText(note.textContent);
      status.textContent = "Copied the note to the clipboard.";
    } catch (denied) {
      // No clipboard permission (or not a secure context): select the note so Ctrl+C copies it.
      selectNote();
      status.textContent = document.execCommand && document.execCommand("copy")
        ? "Copied the note to the clipboard." : "The note is selected: press Ctrl+C (or ⌘C) to copy it.";
    }
  });
})();
