// Chat page: send the question to POST /ask and render the cited answer.
// All record and question text goes in through textContent, never innerHTML.
(function () {
  "use strict";
  const form = document.getElementById("ask-form");
  const input = document.getElementById("question");
  const button = document.getElementById("ask-button");
  const status = document.getElementById("status");
  const conversation = document.getElementById("conversation");
  const template = document.getElementById("turn-template");

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function renderAnswer(container, text) {
    // Turn "[n]" into links to the matching source card.
    text.split("\n").forEach(function (line) {
      const p = el("p", line.startsWith("Built from catalogue") ? "basis" : "");
      let last = 0;
      line.replace(/\[(\d+)\]/g, function (match, n, offset) {
        p.appendChild(document.createTextNode(line.slice(last, offset)));
        const a = el("a", "cite", "[" + n + "]");
        a.href = "#" + container.dataset.turn + "-source-" + n;
        p.appendChild(a);
        last = offset + match.length;
        return match;
      });
      p.appendChild(document.createTextNode(line.slice(last)));
      container.appendChild(p);
    });
  }

  function renderSource(turnId, source) {
    const li = el("li");
    li.id = turnId + "-source-" + source.n;
    li.value = source.n;
    const title = el("a", "title", source.title);
    title.href = source.record_url;
    li.appendChild(title);
    const date = source.date || "Undated";
    li.appendChild(el("div", "meta", date + " · precision: " + source.precision + " · score " + source.score.toFixed(2)));
    li.appendChild(el("p", "summary", source.summary));
    source.notes.forEach(function (note) { li.appendChild(el("p", "note", "Note: " + note)); });
    return li;
  }

  function render(data) {
    const turn = template.content.firstElementChild.cloneNode(true);
    const turnId = "t" + (conversation.children.length + 1);
    turn.querySelector(".question").textContent = data.question;
    const answer = turn.querySelector(".answer");
    answer.dataset.turn = turnId;
    if (data.abstained) turn.classList.add("abstained");
    renderAnswer(answer, data.answer);
    const list = turn.querySelector(".sources");
    data.sources.forEach(function (s) { list.appendChild(renderSource(turnId, s)); });
    conversation.appendChild(turn);
    turn.scrollIntoView({ behavior: "smooth", block: "start" });
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const question = input.value.trim();
    if (!question) { status.textContent = "Type a question first."; return; }
    button.disabled = true;
    status.className = "";
    status.textContent = "Searching the collection…";
    try {
      const response = await fetch("/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question: question }),
      });
      const data = await response.json().catch(function () { return {}; });
      if (!response.ok) throw new Error(data.detail || ("The server answered " + response.status));
      render(data);
      status.textContent = "";
      input.value = "";
    } catch (error) {
      status.className = "error";
      status.textContent = "Error: " + error.message;
    } finally {
      button.disabled = false;
      input.focus();
    }
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
})();
