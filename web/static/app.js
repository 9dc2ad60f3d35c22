// The chat page: ask, keep conversations, collect votes (rendering is in render.js).
// Question and record text is outside data: it reaches the page only through
// textContent and attributes, never as markup.
import { el, renderTurn, setPressed, toggleTimeline } from "./render.js";

const $ = (id) => document.getElementById(id);
const form = $("ask-form"), input = $("question"), askButton = $("ask-button");
const statusLine = $("status"), errorBox = $("error"), notice = $("notice");
const conversationEl = $("conversation"), listEl = $("conversation-list"), emptyEl = $("history-empty");
const maxK = Number(document.body.dataset.maxK) || 50;
const records = Number(document.body.dataset.records) || 0;

let conversationId = new URLSearchParams(location.search).get("c");
let lastTurn = 0;
let busy = false;

// --- talking to the server ---------------------------------------------

async function api(method, url, payload) {
  const options = { method: method, headers: { Accept: "application/json" } };
  if (payload !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(payload);
  }
  let response;
  try {
    response = await fetch(url, options);
  } catch (networkError) {
    throw new Error("Could not reach the server. Check that it is running and try again.");
  }
  const data = await response.json().catch(function () { return null; });
  if (!response.ok) {
    let detail = data && typeof data.detail === "string" ? data.detail : "";
    // Schema validation puts the specifics in "extra": [{key, message}].
    if (data && Array.isArray(data.extra)) {
      detail += data.extra.map(function (e) { return "; " + (e.key ? e.key + ": " : "") + e.message; }).join("");
    }
    const error = new Error(response.status >= 500
      ? "The server failed while answering (HTTP " + response.status + "). Try again in a moment; if it keeps failing, tell whoever runs this collection."
      : "Not answered: " + (detail || "the server refused the request") + " (HTTP " + response.status + ")");
    error.status = response.status;
    throw error;
  }
  return data;
}

function say(text) { statusLine.textContent = text; }

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
}

function clearError() {
  errorBox.textContent = "";
  errorBox.hidden = true;
}

// --- votes ---------------------------------------------------------------

async function vote(button) {
  const group = button.closest(".thumbs"), turn = button.closest(".turn");
  const payload = { conversation_id: turn.dataset.conversation, turn: Number(group.dataset.turn), vote: Number(button.dataset.vote) };
  if (group.dataset.record) payload.record_id = group.dataset.record;
  try {
    await api("POST", "/feedback", payload);
    setPressed(group, payload.vote);
    say("Thank you: your vote is saved and helps test this collection's answers.");
  } catch (error) {
    showError(error.message);
  }
}

function applyVotes(votes) {
  votes.forEach(function (v) {
    const turn = $("t" + v.turn);
    if (!turn) return;
    const group = Array.from(turn.querySelectorAll(".thumbs")).find(function (g) { return (g.dataset.record || null) === v.record_id; });
    if (group) setPressed(group, v.vote);
  });
}

// --- conversations ----------------------------------------------------------

function setConversation(id) {
  conversationId = id;
  history.replaceState(null, "", id ? "/?c=" + encodeURIComponent(id) : "/");
}

function startNew() {
  setConversation(null);
  conversationEl.replaceChildren();
  lastTurn = 0;
  document.title = "archive-docent";
  clearError();
  refreshList();
}

async function loadConversation(id) {
  say("Loading the conversation…");
  let conversation;
  try {
    conversation = await api("GET", "/conversations/" + encodeURIComponent(id));
  } catch (error) {
    say("");
    if (error.status === 404) {
      setConversation(null);
      notice.textContent = "That conversation is no longer stored (it may have been deleted). Your next question starts a new one.";
      notice.hidden = false;
    } else {
      showError(error.message);
    }
    return;
  }
  conversation.history.forEach(function (turn) { conversationEl.appendChild(renderTurn(turn.response, turn.n, id)); lastTurn = turn.n; });
  document.title = conversation.title + " — archive-docent";
  say("");
  applyVotes(await api("GET", "/feedback/" + encodeURIComponent(id)).catch(function () { return []; }));
  const target = location.hash && document.getElementById(location.hash.slice(1));
  const last = conversationEl.lastElementChild;
  if (target) target.scrollIntoView({ block: "start" });
  else if (last) last.scrollIntoView({ block: "start" });
}

async function refreshList() {
  let items;
  try {
    items = await api("GET", "/conversations");
  } catch (error) {
    return;  // the list is a convenience; asking still works without it
  }
  listEl.replaceChildren.apply(listEl, items.map(function (item) {
    const li = el("li");
    const link = el("a", "conversation-link", item.title);
    link.href = "/?c=" + encodeURIComponent(item.id);
    if (item.id === conversationId) link.setAttribute("aria-current", "page");
    const when = new Date(item.updated_at);
    const meta = el("span", "meta", item.turns + (item.turns === 1 ? " question" : " questions") + " · " +
      (isNaN(when) ? item.updated_at : when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" })));
    const remove = el("button", "delete", "Delete");
    remove.type = "button";
    remove.setAttribute("aria-label", "Delete the conversation “" + item.title + "”");
    remove.addEventListener("click", function () { deleteConversation(item); });
    li.append(link, meta, remove);
    return li;
  }));
  emptyEl.hidden = items.length > 0;
}

async function deleteConversation(item) {
  if (!window.confirm("Delete the conversation “" + item.title + "”? This cannot be undone.")) return;
  try {
    await api("DELETE", "/conversations/" + encodeURIComponent(item.id));
  } catch (error) {
    showError(error.message);
    return;
  }
  if (item.id === conversationId) startNew();
  else refreshList();
  say("Conversation deleted.");
  $("new-conversation").focus();
}

// --- asking -----------------------------------------------------------------

function readRequest() {
  const question = input.value.trim();
  if (!question) throw Object.assign(new Error("Type a question first."), { field: input });
  const payload = { question: question };
  const from = $("date-from").value.trim(), to = $("date-to").value.trim(), k = $("k").value.trim();
  if (from) payload.date_from = from;
  if (to) payload.date_to = to;
  if (k) {
    const n = Number(k);
    if (!Number.isInteger(n) || n < 1 || n > maxK) {
      throw Object.assign(new Error("Sources must be a whole number from 1 to " + maxK + "."), { field: $("k") });
    }
    payload.k = n;
  }
  if (conversationId) payload.conversation_id = conversationId;
  return payload;
}

function setBusy(question) {
  busy = Boolean(question);
  askButton.disabled = busy;
  askButton.textContent = busy ? "Asking…" : "Ask";
  form.setAttribute("aria-busy", String(busy));
  const pending = conversationEl.querySelector(".pending");
  if (pending) pending.remove();
  if (!busy) return;
  const placeholder = el("article", "turn pending");
  placeholder.setAttribute("aria-busy", "true");
  placeholder.append(el("h2", "question", question), el("p", "loading", "Searching " + (records ? records.toLocaleString() + " records" : "the collection") + "…"));
  conversationEl.appendChild(placeholder);
  placeholder.scrollIntoView({ block: "nearest" });
  say("Searching the collection…");
}

async function ask(event) {
  event.preventDefault();
  if (busy) return;
  clearError();
  notice.hidden = true;
  let payload;
  try {
    payload = readRequest();
  } catch (invalid) {
    showError(invalid.message);
    invalid.field.focus();
    return;
  }
  setBusy(payload.question);
  try {
    const data = await api("POST", "/ask", payload);
    setBusy(null);
    const n = data.conversation_id && data.conversation_id === conversationId ? lastTurn + 1 : 1;
    if (data.conversation_id !== conversationId) {
      conversationEl.replaceChildren();
      setConversation(data.conversation_id);
    }
    lastTurn = n;
    conversationEl.appendChild(renderTurn(data, n, data.conversation_id)).scrollIntoView({ block: "start" });
    input.value = "";
    say(data.abstained ? "No record is relevant enough; the answer says what was searched."
      : "Answered from " + data.sources.length + (data.sources.length === 1 ? " record." : " records."));
    refreshList();
  } catch (error) {
    setBusy(null);
    say("");
    showError(error.message);
  } finally {
    input.focus();
  }
}

// --- wiring -------------------------------------------------------------------

form.addEventListener("submit", ask);
input.addEventListener("keydown", function (event) {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    form.requestSubmit();
  }
});
$("new-conversation").addEventListener("click", function () { startNew(); input.focus(); });
document.querySelector(".skip").addEventListener("click", function (event) { event.preventDefault(); input.focus(); });

conversationEl.addEventListener("click", function (event) {
  const target = event.target.closest("button, a.cite, a.mark");
  if (!target) return;
  if (target.matches("button.thumb")) vote(target);
  else if (target.matches("button.view-toggle")) toggleTimeline(target);
  else if (target.matches("button.badge")) target.classList.toggle("open");
  else {
    // Follow a citation: the browser scrolls; focus goes along for keyboard users.
    const card = document.getElementById(target.getAttribute("href").slice(1));
    if (card) setTimeout(function () { card.focus({ preventScroll: true }); }, 0);
  }
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  document.querySelectorAll(".badge.open").forEach(function (b) { b.classList.remove("open"); });
  if (document.activeElement && document.activeElement.matches(".badge")) document.activeElement.classList.add("dismissed");
});
conversationEl.addEventListener("focusout", function (event) {
  if (event.target.matches && event.target.matches(".badge")) event.target.classList.remove("dismissed", "open");
});

if (conversationId) loadConversation(conversationId);
refreshList();
