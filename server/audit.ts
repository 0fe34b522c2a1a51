/**
 * Append-only audit log, one JSON object a line: who connected, who held the lease,
 * which commands were clamped or refused, every e-stop. It is written through a single
 * append stream (no fsync per line: at 100 Hz that would cost more than the robot loop;
 * the stream is flushed on shutdown). The most recent entries are also kept in memory
 * so tests and the status endpoint can look at them without reading the file.
 *
 * Every entry is redacted on the way in (redact.ts): whichever caller forgets, a token
 * in a URL, a header or a field named like a secret never reaches the file or the ring.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { redactFields } from './redact.ts';

export interface AuditEntry {
  ts: string;
  event: string;
  [k: string]: unknown;
}

export class AuditLog {
  private stream: WriteStream | null;
  private readonly ring: AuditEntry[] = [];
  private readonly listeners = new Set<(e: AuditEntry) => void>();

  constructor(readonly path: string | null, private readonly ringSize = 5000) {
    if (path) {
      mkdirSync(dirname(path), { recursive: true });
      this.stream = createWriteStream(path, { flags: 'a' });
      // A full disk must not crash the robot loop; the in-memory ring still works.
      this.stream.on('error', (e) => {
        process.stderr.write(`audit log ${path}: ${e.message}\n`);
        this.stream = null;
      });
    } else {
      this.stream = null;
    }
  }

  write(event: string, fields: Record<string, unknown> = {}): void {
    const entry = { ts: new Date().toISOString(), event, ...(redactFields(fields) as Record<string, unknown>) } as AuditEntry;
    this.ring.push(entry);
    if (this.ring.length > this.ringSize) this.ring.splice(0, this.ring.length - this.ringSize);
    this.stream?.write(JSON.stringify(entry) + '\n');
    for (const l of this.listeners) l(entry);
  }

  recent(event?: string): AuditEntry[] {
    return event ? this.ring.filter((e) => e.event === event) : this.ring.slice();
  }

  subscribe(l: (e: AuditEntry) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = null;
    if (!s) return Promise.resolve();
    return new Promise((res) => s.end(() => res()));
  }
}
