/**
 * The demo: a small collaborative outliner on the client library alone. Pages are
 * entities with node/title; blocks have block/uid, block/string, block/order and hang off
 * their parent's block/children. Every edit is a transaction; the page renders only from
 * the replica, so what you see is what the server committed (plus what you are typing).
 */
import { type Presence, type Status, type SyncClient, connect, indexedDbPersistence } from "../src";

interface Block {
  uid: string;
  string: string;
  order: number;
  children: Block[];
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const STATUS_TEXT: Record<Status, string> = {
  connecting: "connecting…",
  "catching-up": "catching up…",
  live: "live",
  offline: "reconnecting…",
  failed: "failed",
};

function shortId(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(36).padStart(2, "0")).join("").slice(0, 10);
}

function colorOf(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${h % 360} 55% 42%)`;
}

/** Token and name come from the URL fragment (never sent to the server), then this tab's storage. */
function credentials(): { token: string; name: string } | null {
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get("token") ?? sessionStorage.getItem("sync-token");
  const name = hash.get("name") ?? localStorage.getItem("sync-name");
  if (hash.has("token") || hash.has("name")) {
    // Keep the token out of the address bar and history; keep the rest (e.g. page=).
    hash.delete("token");
    hash.delete("name");
    history.replaceState(null, "", `${location.pathname}${location.search}${hash.size > 0 ? `#${hash}` : ""}`);
  }
  if (!token || !name) return null;
  sessionStorage.setItem("sync-token", token);
  localStorage.setItem("sync-name", name);
  return { token, name };
}

class Outliner {
  private page: string | null = null;
  private readonly inputs = new Map<string, HTMLInputElement>();
  private shape = "";

  constructor(readonly client: SyncClient) {
    client.on("status", (status, error) => this.showStatus(status, error?.message));
    client.on("presence", () => this.renderPresence());
    client.on("snapshot", () => this.render());
    client.listen(() => this.render());
    $("new-page").addEventListener("submit", (ev) => {
      ev.preventDefault();
      void this.createPage($<HTMLInputElement>("new-title").value.trim());
    });
    $("add-block").addEventListener("click", () => void this.addFirstBlock());
    window.addEventListener("hashchange", () => this.openFromHash());
    this.openFromHash();
    this.render();
  }

  private showStatus(status: Status, message?: string): void {
    document.body.dataset.status = status;
    $("status").textContent = status === "failed" && message ? `failed: ${message}` : STATUS_TEXT[status];
  }

  private openFromHash(): void {
    const title = new URLSearchParams(location.hash.slice(1)).get("page");
    if (title && title !== this.page) this.open(title);
  }

  open(title: string): void {
    this.page = title;
    this.shape = "";
    this.client.setPresence({ page: title, block: null });
    this.render();
  }

  // --- reading the replica --------------------------------------------------------

  private pages(): string[] {
    return this.client.q<string[][]>('[:find ?t :where [_ "node/title" ?t]]').map((r) => r[0]!).sort();
  }

  private pageUid(title: string): string | null {
    return this.client.q<string | null>('[:find ?u . :in $ ?t :where [?p "node/title" ?t] [?p "block/uid" ?u]]', title);
  }

  private tree(parentUid: string): Block[] {
    const rows = this.client.q<Array<[string, string, number]>>(
      `[:find ?u ?s ?o :in $ ?pu :where [?p "block/uid" ?pu] [?p "block/children" ?c] [?c "block/uid" ?u]
        [(get-else $ ?c "block/string" "") ?s] [(get-else $ ?c "block/order" 0) ?o]]`,
      parentUid,
    );
    return rows
      .map(([uid, string, order]) => ({ uid, string, order, children: this.tree(uid) }))
      .sort((a, b) => a.order - b.order || (a.uid < b.uid ? -1 : 1));
  }

  /** The parent uid, siblings and index of a block on the open page. */
  private locate(uid: string): { parent: string; siblings: Block[]; index: number; grandparent: string | null } | null {
    const root = this.page && this.pageUid(this.page);
    if (!root) return null;
    const walk = (parent: string, blocks: Block[], grandparent: string | null): ReturnType<Outliner["locate"]> => {
      const index = blocks.findIndex((b) => b.uid === uid);
      if (index >= 0) return { parent, siblings: blocks, index, grandparent };
      for (const b of blocks) {
        const found = walk(b.uid, b.children, parent);
        if (found) return found;
      }
      return null;
    };
    return walk(root, this.tree(root), null);
  }

  // --- writing: every edit is one transaction ----------------------------------------

  private async createPage(title: string): Promise<void> {
    if (!title) return;
    $<HTMLInputElement>("new-title").value = "";
    const first = shortId();
    if (!this.pageUid(title)) {
      await this.client.transact([
        { ":db/id": -1, "node/title": title, "block/uid": shortId(), "create/time": Date.now(), "create/auth": this.client.name },
        { ":db/id": -2, "block/uid": first, "block/string": "", "block/order": 0 },
        [":db/add", -1, "block/children", -2],
      ]);
    }
    location.hash = `page=${encodeURIComponent(title)}`;
    this.open(title);
    this.focus(first, 0);
  }

  private async addFirstBlock(): Promise<void> {
    const root = this.page && this.pageUid(this.page);
    if (!root) return;
    const uid = shortId();
    await this.client.transact([{ ":db/id": -1, "block/uid": uid, "block/string": "", "block/order": 0 }, [":db/add", ["block/uid", root], "block/children", -1]]);
    this.focus(uid, 0);
  }

  private edit(uid: string, text: string): void {
    if (this.unborn.has(uid)) return; // its creating transaction will carry the text
    this.typed.set(uid, text);
    void this.client
      .transact([[":db/add", ["block/uid", uid], "block/string", text], [":db/add", ["block/uid", uid], "edit/time", Date.now()]])
      .then(() => {
        if (this.typed.get(uid) === text) this.typed.delete(uid);
      })
      .catch((err) => console.warn("edit failed", err));
  }

  /**
   * Structural edits (Enter, Tab) run one after another: each reads the tree after the
   * previous one is applied, however fast the keys come.
   */
  private chain: Promise<unknown> = Promise.resolve();
  /** Blocks made by Enter whose transaction is not applied yet: uid → the block they follow. */
  private readonly unborn = new Map<string, string>();
  /**
   * Text typed into a block and not yet applied to the replica: the input shows it, not
   * the replica's older value (the typist may already be in another block).
   */
  private readonly typed = new Map<string, string>();
  private readonly inTree = new Set<string>();

  private queue(op: () => Promise<void>): void {
    this.chain = this.chain.then(op).catch((err) => console.warn("edit failed", err));
  }

  /**
   * Enter: a new sibling right after this block, holding the text after the caret. Its
   * input appears and takes the focus at once, so the next keys land in it; the
   * transaction that creates it carries whatever was typed there by the time it is sent.
   */
  private split(uid: string, input: HTMLInputElement): void {
    const caret = input.selectionStart ?? input.value.length;
    const after = input.value.slice(caret);
    input.value = input.value.slice(0, caret);
    const fresh = shortId();
    const freshInput = this.inputFor({ uid: fresh, string: after, order: 0, children: [] });
    this.unborn.set(fresh, uid);
    input.closest(".block")!.after(this.rowFor(fresh, freshInput));
    this.shape = "";
    freshInput.focus();
    freshInput.setSelectionRange(0, 0);
    this.queue(async () => {
      const where = this.locate(uid);
      if (!where) return;
      const here = where.siblings[where.index]!;
      const next = where.siblings[where.index + 1];
      const order = next ? (here.order + next.order) / 2 : here.order + 1;
      const text = freshInput.value;
      await this.client.transact([
        [":db/add", ["block/uid", uid], "block/string", input.value],
        { ":db/id": -1, "block/uid": fresh, "block/string": text, "block/order": order, "create/time": Date.now(), "create/auth": this.client.name },
        [":db/add", ["block/uid", where.parent], "block/children", -1],
      ]);
      this.unborn.delete(fresh);
      if (freshInput.value !== text) this.edit(fresh, freshInput.value);
      this.render();
    });
  }

  /** Tab: this block becomes the last child of its previous sibling. */
  private indent(uid: string): void {
    this.queue(() => this.doIndent(uid));
  }

  private async doIndent(uid: string): Promise<void> {
    const where = this.locate(uid);
    if (!where || where.index === 0) return;
    const prev = where.siblings[where.index - 1]!;
    const order = prev.children.length > 0 ? prev.children[prev.children.length - 1]!.order + 1 : 0;
    await this.move(uid, where.parent, prev.uid, order);
  }

  /** Shift+Tab: this block moves right after its parent. */
  private outdent(uid: string): void {
    this.queue(() => this.doOutdent(uid));
  }

  private async doOutdent(uid: string): Promise<void> {
    const where = this.locate(uid);
    if (!where?.grandparent) return;
    const parent = this.locate(where.parent);
    if (!parent) return;
    const after = parent.siblings[parent.index + 1];
    const order = after ? (parent.siblings[parent.index]!.order + after.order) / 2 : parent.siblings[parent.index]!.order + 1;
    await this.move(uid, where.parent, where.grandparent, order);
  }

  private async move(uid: string, from: string, to: string, order: number): Promise<void> {
    await this.client.transact([
      [":db/retract", ["block/uid", from], "block/children", ["block/uid", uid]],
      [":db/add", ["block/uid", to], "block/children", ["block/uid", uid]],
      [":db/add", ["block/uid", uid], "block/order", order],
    ]);
    // The rebuild reuses the inputs, so the focus and caret stay wherever the typist is by now.
    this.render();
  }

  private focus(uid: string, caret: number): void {
    this.render();
    const input = this.inputs.get(uid);
    if (!input) return;
    input.focus();
    input.setSelectionRange(caret, caret);
  }

  // --- rendering from the replica -------------------------------------------------------

  render(): void {
    const pages = this.pages();
    const list = $("pages");
    list.replaceChildren(
      ...pages.map((title) => {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = `#page=${encodeURIComponent(title)}`;
        a.textContent = title;
        if (title === this.page) a.className = "current";
        li.append(a);
        return li;
      }),
    );
    const root = this.page && this.pageUid(this.page);
    $("title").textContent = this.page ?? "Pick or create a page";
    $("add-block").hidden = !root;
    const blocks = root ? this.tree(root) : [];
    $("add-block").hidden = !root || blocks.length > 0;
    const shape = JSON.stringify(blocks, (k, v) => (k === "string" ? undefined : v));
    if (shape !== this.shape) {
      // The tree changed: rebuild it from the same input elements, and keep the caret.
      this.shape = shape;
      const active = document.activeElement instanceof HTMLInputElement ? document.activeElement : null;
      const caret = active?.selectionStart ?? null;
      const seen = new Set<string>();
      this.inTree.clear();
      const collect = (bs: Block[]) => bs.forEach((b) => (this.inTree.add(b.uid), collect(b.children)));
      collect(blocks);
      $("blocks").replaceChildren(this.renderBlocks(blocks, seen));
      for (const uid of [...this.inputs.keys()]) if (!seen.has(uid)) this.inputs.delete(uid);
      if (active && active.isConnected && document.activeElement !== active) {
        active.focus();
        if (caret !== null) active.setSelectionRange(caret, caret);
      }
    }
    const visit = (bs: Block[]) => {
      for (const b of bs) {
        const input = this.inputs.get(b.uid)!;
        // The block being typed in keeps the typist's text: the replica lags it by a round trip.
        // So does a block whose creating transaction is applied but not yet settled: what was
        // typed into it meanwhile goes out right after (split), and the typist may have left it.
        if (document.activeElement !== input && !this.typed.has(b.uid) && !this.unborn.has(b.uid) && input.value !== b.string) input.value = b.string;
        visit(b.children);
      }
    };
    visit(blocks);
    this.renderPresence();
  }

  private renderBlocks(blocks: Block[], seen: Set<string>): DocumentFragment {
    const out = document.createDocumentFragment();
    for (const b of blocks) {
      seen.add(b.uid);
      out.append(this.rowFor(b.uid, this.inputFor(b)));
      if (b.children.length > 0) {
        const children = document.createElement("div");
        children.className = "children";
        children.append(this.renderBlocks(b.children, seen));
        out.append(children);
      }
      this.appendUnborn(b.uid, out, seen);
    }
    return out;
  }

  /** Blocks Enter just made, not in the replica yet, stay where they were put. */
  private appendUnborn(prev: string, out: DocumentFragment, seen: Set<string>): void {
    for (const [uid, after] of this.unborn) {
      // Skip one the replica already holds (its transaction applied, its promise not yet settled).
      if (after !== prev || seen.has(uid) || !this.inputs.has(uid) || this.inTree.has(uid)) continue;
      seen.add(uid);
      out.append(this.rowFor(uid, this.inputs.get(uid)!));
      this.appendUnborn(uid, out, seen);
    }
  }

  private rowFor(uid: string, input: HTMLInputElement): HTMLElement {
    const row = document.createElement("div");
    row.className = "block";
    row.dataset.uid = uid;
    const cursors = document.createElement("span");
    cursors.className = "cursors";
    row.append(input, cursors);
    return row;
  }

  private inputFor(b: Block): HTMLInputElement {
    const existing = this.inputs.get(b.uid);
    if (existing) return existing;
    const input = document.createElement("input");
    input.value = b.string;
    input.setAttribute("aria-label", "block");
    input.addEventListener("input", () => this.edit(b.uid, input.value));
    input.addEventListener("focus", () => this.client.setPresence({ page: this.page, block: b.uid }));
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") {
        ev.preventDefault();
        this.split(b.uid, input);
      } else if (ev.key === "Tab") {
        ev.preventDefault();
        if (ev.shiftKey) this.outdent(b.uid);
        else this.indent(b.uid);
      }
    });
    input.addEventListener("blur", () => {
      // Show what the others wrote meanwhile (last writer wins per block).
      queueMicrotask(() => this.render());
    });
    this.inputs.set(b.uid, input);
    return input;
  }

  private renderPresence(): void {
    const others = this.client.presence.filter((p) => p.session !== this.client.session);
    // The list holds those who share their presence; the count is everyone online.
    $("me").textContent = `you: ${this.client.name} · ${this.client.online} online`;
    $("online").replaceChildren(
      ...others.map((p) => {
        const li = document.createElement("li");
        li.textContent = p.page ? `${p.name} · ${p.page}` : p.name;
        li.style.background = colorOf(p.name);
        li.dataset.name = p.name;
        return li;
      }),
    );
    for (const row of document.querySelectorAll<HTMLElement>(".block")) {
      const here = others.filter((p: Presence) => p.block === row.dataset.uid);
      row.querySelector(".cursors")!.replaceChildren(
        ...here.map((p) => {
          const tag = document.createElement("span");
          tag.className = "cursor";
          tag.textContent = p.name;
          tag.style.background = colorOf(p.name);
          return tag;
        }),
      );
    }
  }
}

function start(token: string, name: string): void {
  $("login").hidden = true;
  $("app").hidden = false;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
  const persist = new URLSearchParams(location.search).get("persist") === "0" ? undefined : indexedDbPersistence(`${location.host}:${name}`);
  // Someone is looking at this page: after an outage it retries at least every 5 s, not the
  // library's 30 s. A server that sheds load answers 1013 or 429, which wait longer anyway.
  const client = connect({ url, token, name, persist, backoff: { maxMs: 5000 } });
  const app = new Outliner(client);
  // For the browser test and for poking at it from the console.
  (window as unknown as { outliner: unknown }).outliner = { client, app };
}

const creds = credentials();
if (creds) start(creds.token, creds.name);
else {
  $("login").hidden = false;
  $<HTMLInputElement>("name").value = `guest-${shortId().slice(0, 4)}`;
  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const token = $<HTMLInputElement>("token").value;
    const name = $<HTMLInputElement>("name").value.trim();
    sessionStorage.setItem("sync-token", token);
    localStorage.setItem("sync-name", name);
    start(token, name);
  });
}
