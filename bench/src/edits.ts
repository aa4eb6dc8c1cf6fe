/**
 * What an edit carries and how a receiver checks it. Every edit's payload is
 * `<writer>.<seq>.<sentAtMs>;`: the writer's index, its sequence number (0, 1, 2, ...
 * across all rounds) and the moment it was sent on the shared monotonic clock. The same
 * text is our block/string value and Hocuspocus's inserted Yjs text, so both sides move
 * payloads of the same size, and a receiver can tell exactly which edit arrived.
 */
export function formatEdit(writer: number, seq: number, sentAt: number): string {
  return `${writer}.${seq}.${sentAt.toFixed(3)};`;
}

export interface Edit {
  readonly writer: number;
  readonly seq: number;
  readonly sentAt: number;
}

const EDIT = /^(\d+)\.(\d+)\.(\d+\.\d{3});$/;

/** Parses one payload, or null when the text is not an edit (e.g. a writer's empty setup block). */
export function parseEdit(text: string): Edit | null {
  const match = EDIT.exec(text);
  if (!match) return null;
  return { writer: Number(match[1]), seq: Number(match[2]), sentAt: Number(match[3]) };
}

const MAX_ERRORS = 20;

/**
 * One client's view of every writer's stream. Both servers deliver one writer's edits
 * in the order it sent them, so each writer's next edit must carry exactly the next
 * sequence number: a gap is a lost edit, a repeat is a duplicate. Both fail the run.
 */
export class EditTracker {
  private readonly next = new Map<number, number>();
  readonly errors: string[] = [];
  received = 0;
  readonly clientIndex: number;

  constructor(clientIndex: number) {
    this.clientIndex = clientIndex;
  }

  /** Records an edit; returns false (and notes why) when it is out of sequence. */
  accept(edit: Edit): boolean {
    const expected = this.next.get(edit.writer) ?? 0;
    if (edit.seq !== expected) {
      this.fail(`client ${this.clientIndex}: writer ${edit.writer} edit ${edit.seq} arrived when ${expected} was due (${edit.seq < expected ? "duplicate" : "gap: lost edits"})`);
      return false;
    }
    this.next.set(edit.writer, expected + 1);
    this.received++;
    return true;
  }

  fail(message: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push(message);
  }

  /** How many edits of this writer have arrived so far. */
  count(writer: number): number {
    return this.next.get(writer) ?? 0;
  }

  /** Writers whose edits have not all arrived, given each writer's total sent. */
  missing(totals: Readonly<Record<string, number>>): Array<{ writer: number; have: number; want: number }> {
    const out: Array<{ writer: number; have: number; want: number }> = [];
    for (const [key, want] of Object.entries(totals)) {
      const writer = Number(key);
      const have = this.count(writer);
      if (have !== want) out.push({ writer, have, want });
    }
    return out;
  }
}
