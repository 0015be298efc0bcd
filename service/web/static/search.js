// Search-as-you-type for the medcodes search page: debounced /api/search, highlighted rows, arrow keys,
// the query kept in the URL. Without this script the form still submits to / and the server renders results.
(() => {
  "use strict";
  const form = document.getElementById("search");
  if (!form) return;
  const input = form.querySelector("#q");
  const system = form.querySelector("#system");
  const chapter = form.querySelector("#chapter");
  const billable = form.querySelector("#billable");
  const list = document.getElementById("results");
  const status = document.getElementById("status");
  const none = document.getElementById("noresults");
  const more = document.getElementById("more");
  const next = document.getElementById("next");
  const dymLine = document.getElementById("dym-line");
  const dym = document.getElementById("dym");
  const expanded = document.getElementById("expanded");
  const expansions = document.getElementById("expansions");
  const titles = JSON.parse(form.dataset.systems || "{}");
  const pageSize = Number(form.dataset.pageSize || 20);
  const DEBOUNCE_MS = 180;
  const STOP = new Set(("a an and are as at be by for from in into is of on or the to with without nos " +
                        "unspecified other").split(" "));
  let timer = 0, controller = null, active = -1, shown = 0, lastKey = "", nextOffset = null;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function queryWords(query) {
    return (query.toLowerCase().match(/[a-z0-9]+/g) || []).filter((w) => w.length > 1 && !STOP.has(w));
  }

  // Same rule as the server's highlight filter: a word typed as a prefix, or the same first five letters.
  function highlighted(title, query) {
    const words = queryWords(query);
    const out = document.createDocumentFragment();
    let last = 0;
    for (const m of title.matchAll(/[A-Za-z0-9]+/g)) {
      const token = m[0].toLowerCase();
      if (words.some((w) => token.startsWith(w) || (w.length >= 5 && token.slice(0, 5) === w.slice(0, 5)))) {
        out.append(title.slice(last, m.index), el("mark", "", m[0]));
        last = m.index + m[0].length;
      }
    }
    out.append(title.slice(last));
    return out;
  }

  function row(hit, query) {
    const li = el("li", "hit");
    li.id = "hit-" + list.children.length;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", "false");
    const a = el("a");
    a.href = hit.url;
    const title = el("span", "title");
    title.append(highlighted(hit.title, query));
    a.append(el("span", "sys", titles[hit.system] || hit.system), " ", el("span", "code", hit.code), " ", title, " ",
             hit.billable ? el("span", "badge billable", "Billable")
                          : el("span", "badge", "Not billable · " + hit.kind.replace(/_/g, " ")));
    if (hit.reasons && hit.reasons.length) a.append(el("span", "why", hit.reasons.join("; ")));
    li.append(a);
    if (hit.variants && hit.variants.length) li.append(siblings(hit.variants));
    return li;
  }

  // A result's 7th-character siblings: in full up to FOLD_INLINE, else folded in a <details> (as _hit.html does).
  const FOLD_INLINE = 3;
  function siblings(variants) {
    const inline = variants.length <= FOLD_INLINE;
    const also = inline ? el("span", "also", "also ") : el("details", "also");
    const list = inline ? also : document.createDocumentFragment();
    variants.forEach((v, n) => {
      const link = el("a", "", v.code);
      link.href = v.url;
      link.title = v.title;
      list.append(n ? "; " : "", link, " " + v.label);
    });
    if (!inline) {
      const short = (v) => v.code.replace(".", "").length;
      const heads = variants.filter((v) => short(v) < 7).map((v) => v.code);
      const sevenths = variants.filter((v) => short(v) === 7).map((v) => v.code.slice(-1));
      const told = heads.concat(sevenths.length ? [(sevenths.length === 1 ? "7th character " : "7th characters ")
                                                   + sevenths.join(", ")] : []);
      also.append(el("summary", "", "also " + told.join(" and ")), list);
    }
    return also;
  }

  function params() {
    const p = new URLSearchParams();
    p.set("q", input.value);
    if (system.value) p.set("system", system.value);
    if (chapter.value) p.set("chapter", chapter.value);
    if (billable.checked) p.set("billable", "true");
    return p;
  }

  function rows() { return list.querySelectorAll("li.hit"); }

  function setActive(index) {
    const all = rows();
    active = all.length ? Math.max(-1, Math.min(index, all.length - 1)) : -1;
    all.forEach((r, k) => r.setAttribute("aria-selected", k === active ? "true" : "false"));
    if (active >= 0) {
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function reset() {
    list.replaceChildren();
    none.replaceChildren();
    none.hidden = true;
    more.hidden = true;
    dymLine.hidden = true;
    expanded.hidden = true;
    active = -1; shown = 0; nextOffset = null;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function link(text, href) {
    const a = el("a", "", text);
    a.href = href;
    return a;
  }

  function broader(p, query) {
    const out = [];
    for (const [key, label] of [["billable", "include non-billable codes"], ["chapter", "search every chapter"],
                                ["system", "search every code system"]]) {
      if (p.has(key)) {
        const q = new URLSearchParams(p);
        q.delete(key);
        out.push(link(label, "/?" + q));
      }
    }
    const words = query.split(/\s+/).filter(Boolean);
    if (words.length > 1) {
      const q = new URLSearchParams(p);
      q.set("q", words.slice(0, -1).join(" "));
      out.push(link("search for “" + q.get("q") + "”", "/?" + q));
    }
    return out;
  }

  // "Did you mean" (a spelling correction) and the lay terms or abbreviations the engine also searched for.
  function understood(body, p) {
    const q = new URLSearchParams(p);
    q.set("q", body.did_you_mean || "");
    dym.href = "/?" + q;
    dym.textContent = body.did_you_mean || "";
    dymLine.hidden = !body.did_you_mean;
    expansions.textContent = (body.expansions || []).join("; ");
    expanded.hidden = !(body.expansions && body.expansions.length);
  }

  async function noResults(body, p, signal) {
    none.replaceChildren();
    if (body.hint) none.append(el("p", "hint", body.hint));
    const links = broader(p, body.query);
    if (links.length) {
      const ul = el("ul", "broader");
      links.forEach((a) => { const li = el("li"); li.append(a); ul.append(li); });
      none.append(el("p", "", "Try a broader search:"), ul);
    } else {
      none.append(el("p", "", "Try other words, a shorter description, or the start of a code."));
    }
    none.hidden = false;
    const s = new URLSearchParams({ q: p.get("q"), limit: "10" });
    if (p.has("system") && !p.get("chapter")) s.set("system", p.get("system"));
    const res = await fetch("/api/suggest?" + s, { signal });
    if (!res.ok) return;
    const completions = (await res.json()).suggestions || [];
    if (completions.length) {
      none.append(el("p", "", "Codes whose words or code start with what you typed:"));
      completions.forEach((h) => list.append(row(h, body.query)));
      input.setAttribute("aria-expanded", "true");
    }
  }

  async function run(offset) {
    const p = params();
    history.replaceState(null, "", input.value.trim() ? "/?" + p : "/");
    if (!input.value.trim()) { reset(); status.textContent = ""; lastKey = ""; return; }
    const key = p.toString();
    if (offset === 0 && key === lastKey) return;
    if (controller) controller.abort();
    controller = new AbortController();
    const api = new URLSearchParams(p);
    api.set("limit", String(pageSize));
    api.set("offset", String(offset));
    let body;
    try {
      const res = await fetch("/api/search?" + api, { signal: controller.signal });
      body = await res.json();
      if (offset === 0) reset();
      lastKey = key;
      if (!res.ok) { status.textContent = body.message || "The search failed."; return; }
      understood(body, p);
      const marked = [body.query, body.did_you_mean || "",
                      ...(body.expansions || []).map((e) => e.split("→").pop())].join(" ");
      body.results.forEach((h) => list.append(row(h, marked)));
      shown += body.results.length;
      nextOffset = body.next_offset;
      more.hidden = nextOffset === null || nextOffset === undefined;
      input.setAttribute("aria-expanded", shown ? "true" : "false");
      status.textContent = body.total
        ? `${shown} of ${body.total} codes for “${body.query}” (${body.took_ms} ms)`
        : `No codes match “${body.query}”.`;
      if (!body.total) await noResults(body, p, controller.signal);
    } catch (err) {
      if (err.name !== "AbortError") status.textContent = "The search service did not answer; try again.";
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(() => run(0), DEBOUNCE_MS);
  }

  function syncChapters() {
    for (const group of chapter.querySelectorAll("optgroup")) {
      const other = system.value !== "" && group.dataset.system !== system.value;
      group.hidden = other;
      group.disabled = other;
    }
  }

  input.addEventListener("input", schedule);
  input.addEventListener("keydown", (e) => {
    if (e.key === "ArrowDown") { e.preventDefault(); setActive(active + 1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); setActive(active - 1); }
    else if (e.key === "Escape") { setActive(-1); }
    else if (e.key === "Enter") {
      e.preventDefault();
      const target = active >= 0 ? rows()[active] : null;
      if (target) { window.location.assign(target.querySelector("a").href); return; }
      clearTimeout(timer);
      lastKey = "";
      run(0);
    }
  });
  list.addEventListener("mousemove", (e) => {
    const li = e.target.closest("li.hit");
    if (li) setActive([...rows()].indexOf(li));
  });
  system.addEventListener("change", () => {
    if (chapter.value && !chapter.value.startsWith(system.value + ":")) chapter.value = "";
    syncChapters();
    run(0);
  });
  chapter.addEventListener("change", () => {
    if (chapter.value) system.value = chapter.value.split(":")[0];
    syncChapters();
    run(0);
  });
  billable.addEventListener("change", () => run(0));
  more.addEventListener("click", () => { if (nextOffset !== null) run(nextOffset); });
  form.addEventListener("submit", (e) => { e.preventDefault(); lastKey = ""; run(0); });

  // Results the server already rendered for a shared URL become navigable; "next page" turns into "show more".
  syncChapters();
  shown = rows().length;
  if (input.value.trim()) lastKey = params().toString();
  if (next) {
    nextOffset = Number(new URL(next.href).searchParams.get("offset"));
    next.parentElement.hidden = true;
    more.hidden = false;
  }
  input.focus();
  input.setSelectionRange(input.value.length, input.value.length);
})();
