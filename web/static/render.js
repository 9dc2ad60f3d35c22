// Rendering an answer: the question, the cited answer text, the source cards
// with caveat badges and votes, what was searched, and the timeline view.
// Question and record text is outside data: it reaches the page only through
// textContent and attributes, never as markup. Markup comes from the
// <template> elements in index.html.

const PRECISION = { day: "exact day", month: "month only", year: "year only", decade: "decade only", range: "a date range", undated: "undated" };
const DATE_SOURCE = { request: "the date filter", question: "the question", conversation: "the earlier question" };

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

function clone(templateId) {
  return document.getElementById(templateId).content.firstElementChild.cloneNode(true);
}

// --- rendering an answer ------------------------------------------------

function appendCited(node, line, turnId, byN) {
  // "[n]" becomes a link to source card n of this turn.
  const pattern = /\[(\d+)\]/g;
  let last = 0, match;
  while ((match = pattern.exec(line)) !== null) {
    node.appendChild(document.createTextNode(line.slice(last, match.index)));
    const source = byN.get(Number(match[1]));
    if (source) {
      const link = el("a", "cite", match[0]);
      link.href = "#" + turnId + "-source-" + source.n;
      link.title = source.title + " (" + (source.date || "Undated") + ")";
      link.setAttribute("aria-label", "Source " + source.n + ": " + source.title);
      node.appendChild(link);
    } else {
      node.appendChild(document.createTextNode(match[0]));
    }
    last = match.index + match[0].length;
  }
  node.appendChild(document.createTextNode(line.slice(last)));
}

function renderAnswer(container, data, turnId) {
  const byN = new Map(data.sources.map(function (s) { return [s.n, s]; }));
  let list = null;
  data.answer.split("\n").forEach(function (line) {
    if (!line.trim()) return;
    let node;
    if (line.startsWith("- ")) {
      if (!list) container.appendChild(list = el("ul", "statements"));
      node = list.appendChild(el("li"));
      line = line.slice(2);
    } else {
      list = null;
      const kind = line.startsWith("Built from catalogue") ? "basis" : line.startsWith("Caveats") ? "caveat-line" : "";
      node = container.appendChild(el("p", kind));
    }
    appendCited(node, line, turnId, byN);
  });
}

function renderInterpretation(dl, data) {
  const reading = data.interpretation || {}, searched = data.searched || {};
  function row(term, value) {
    if (!value) return;
    dl.appendChild(el("dt", "", term));
    dl.appendChild(el("dd", "", value));
  }
  row("Searched for", reading.query);
  row("Read as a follow-up to", reading.context);
  row("Other names searched", (reading.aliases || []).map(function (a) { return a.name + ": " + a.added.join(", "); }).join("; "));
  if (reading.date_from || reading.date_to) {
    row("Dates", (reading.date_from || "any date") + " to " + (reading.date_to || "any date") + ", from " +
      (DATE_SOURCE[reading.date_source] || "the request") + (reading.date_phrase ? " (“" + reading.date_phrase + "”)" : ""));
  }
  row("Collection", searched.records + " records dated " + (searched.earliest || "?") + " to " + (searched.latest || "?") +
    (searched.undated ? ", " + searched.undated + " undated" : ""));
  row("Best match", (searched.best_score == null ? "no candidate" : searched.best_score.toFixed(2)) +
    " (records below " + Number(searched.min_score).toFixed(2) + " are not cited)");
  if (searched.support != null && searched.min_support != null) {
    row("Support", searched.support.toFixed(2) + " (answers from " + Number(searched.min_support).toFixed(2) +
      "; counts the question's words found and whether dates fit)");
  }
}

function thumbs(turnN, recordId, what) {
  const group = clone("thumbs-template");
  group.dataset.turn = turnN;
  if (recordId) group.dataset.record = recordId;
  group.setAttribute("aria-label", recordId ? "Was " + what + " relevant?" : "Was this answer useful?");
  const labels = recordId ? ["Relevant: " + what, "Not relevant: " + what] : ["Useful answer", "Not a useful answer"];
  group.querySelectorAll("button.thumb").forEach(function (button, i) {
    button.setAttribute("aria-label", labels[i]);
    button.title = labels[i];
  });
  return group;
}

function renderBadges(list, card, caveats) {
  caveats.forEach(function (caveat, i) {
    const item = el("li");
    const badge = el("button", "badge", caveat.label);
    badge.type = "button";
    badge.dataset.code = caveat.code;
    const tip = el("span", "tip", caveat.explanation);
    tip.id = card.id + "-caveat-" + (i + 1);
    tip.setAttribute("role", "tooltip");
    badge.setAttribute("aria-describedby", tip.id);
    item.append(badge, tip);
    list.appendChild(item);
  });
  list.hidden = caveats.length === 0;
}

function renderSource(turnId, turnN, source) {
  const card = clone("source-template");
  card.id = turnId + "-source-" + source.n;
  card.dataset.n = source.n;
  card.dataset.recordId = source.id;
  card.dataset.earliest = source.earliest || "";
  card.dataset.latest = source.latest || "";
  card.querySelector(".n").textContent = "[" + source.n + "]";
  const title = card.querySelector(".title");
  title.textContent = source.title;
  title.href = "/records/" + encodeURIComponent(source.id);
  card.querySelector(".date").textContent = source.date || "Undated";
  card.querySelector(".precision").textContent = "Precision: " + (PRECISION[source.precision] || source.precision);
  card.querySelector(".summary").textContent = source.summary;
  const notes = card.querySelector(".notes");
  source.notes.forEach(function (note) {
    const item = notes.appendChild(el("li"));
    item.append(el("span", "label", "Editorial note: "), document.createTextNode(note));
  });
  notes.hidden = source.notes.length === 0;
  renderBadges(card.querySelector(".badges"), card, source.caveats || []);
  const origin = card.querySelector(".origin");
  origin.textContent = [source.repository, source.collection, "match " + source.score.toFixed(2)].filter(Boolean).join(" · ");
  if (source.url && /^https?:\/\//i.test(source.url)) {
    const link = el("a", "external", "catalogue page");
    link.href = source.url;
    link.rel = "noopener noreferrer";
    origin.append(" · ", link);
  }
  card.querySelector(".source-foot .vote").appendChild(thumbs(turnN, source.id, "source " + source.n));
  return card;
}

export function renderTurn(data, turnN, owner) {
  const turn = clone("turn-template");
  const turnId = "t" + turnN;
  turn.id = turnId;
  turn.dataset.turn = turnN;
  turn.dataset.conversation = owner || "";
  turn.querySelector(".question").textContent = data.question;
  const answer = turn.querySelector(".answer");
  if (data.abstained) {
    turn.classList.add("abstained");
    answer.appendChild(el("p", "abstained-label", "Not in this collection"));
  }
  renderAnswer(answer, data, turnId);
  turn.querySelector(".answer-foot .vote").appendChild(thumbs(turnN, null));
  renderInterpretation(turn.querySelector(".interpretation dl"), data);
  const block = turn.querySelector(".sources-block");
  if (data.sources.length === 0) {
    block.remove();
  } else {
    const list = block.querySelector(".sources");
    data.sources.forEach(function (s) { list.appendChild(renderSource(turnId, turnN, s)); });
    block.querySelector(".view-toggle").hidden = data.sources.length < 2;
  }
  return turn;
}

// --- the timeline view --------------------------------------------------

function day(iso) { return Date.parse(iso + "T00:00:00Z") / 86400000; }

function byDate(a, b) {
  const x = a.dataset.earliest || "9999", y = b.dataset.earliest || "9999";
  return x < y ? -1 : x > y ? 1 : Number(a.dataset.n) - Number(b.dataset.n);
}

function buildAxis(axis, cards) {
  const dated = cards.filter(function (c) { return c.dataset.earliest; });
  const undated = cards.filter(function (c) { return !c.dataset.earliest; });
  const track = axis.appendChild(el("div", "axis-track"));
  if (dated.length) {
    const first = Math.min.apply(null, dated.map(function (c) { return day(c.dataset.earliest); }));
    const end = Math.max.apply(null, dated.map(function (c) { return day(c.dataset.latest || c.dataset.earliest); })) + 1;
    const span = Math.max(end - first, 1);
    const lanes = [];  // right edge (%) of the last mark in each lane, so marks never overlap
    dated.forEach(function (card) {
      const left = (day(card.dataset.earliest) - first) / span * 100;
      const width = (day(card.dataset.latest || card.dataset.earliest) + 1 - day(card.dataset.earliest)) / span * 100;
      let lane = lanes.findIndex(function (edge) { return edge + 4 <= left; });
      if (lane < 0) lane = lanes.push(0) - 1;
      lanes[lane] = left + Math.max(width, 4);
      const mark = el("a", "mark", card.dataset.n);
      mark.href = "#" + card.id;
      mark.setAttribute("aria-label", "Source " + card.dataset.n + ", " + card.querySelector(".date").textContent);
      mark.title = card.querySelector(".date").textContent;
      mark.style.left = Math.min(left, 96) + "%";
      mark.style.width = Math.min(Math.max(width, 0), 100 - left) + "%";
      mark.style.top = lane * 1.9 + "rem";
      track.appendChild(mark);
    });
    track.style.height = lanes.length * 1.9 + "rem";
    const scale = axis.appendChild(el("div", "axis-scale"));
    scale.append(el("span", "", dated.map(function (c) { return c.dataset.earliest; }).sort()[0]),
      el("span", "", dated.map(function (c) { return c.dataset.latest || c.dataset.earliest; }).sort().pop()));
  }
  if (undated.length) {
    axis.appendChild(el("p", "hint", "Undated: " + undated.map(function (c) { return "[" + c.dataset.n + "]"; }).join(" ")));
  }
}

export function toggleTimeline(button) {
  const block = button.closest(".sources-block");
  const list = block.querySelector(".sources"), axis = block.querySelector(".timeline-axis");
  const on = button.getAttribute("aria-pressed") !== "true";
  button.setAttribute("aria-pressed", String(on));
  const cards = Array.from(list.children);
  cards.sort(on ? byDate : function (a, b) { return a.dataset.n - b.dataset.n; }).forEach(function (c) { list.appendChild(c); });
  list.classList.toggle("timeline", on);
  let year = null;
  cards.forEach(function (card) {
    const cardYear = card.dataset.earliest ? card.dataset.earliest.slice(0, 4) : "Undated";
    card.dataset.year = cardYear;
    card.classList.toggle("year-start", on && cardYear !== year);
    year = cardYear;
  });
  if (on && !axis.firstChild) buildAxis(axis, cards);
  axis.hidden = !on;
}

// --- votes ---------------------------------------------------------------

export function setPressed(group, vote) {
  group.querySelectorAll("button.thumb").forEach(function (b) {
    b.setAttribute("aria-pressed", String(Number(b.dataset.vote) === vote));
  });
}
