// Import progress: a bar redrawn in place with rate and ETA on a terminal, plain lines every few
// seconds otherwise (logs, CI, a pipe).
const BAR_WIDTH = 24;
const PLAIN_EVERY_MS = 5000;
const REDRAW_EVERY_MS = 100;

interface Counts {
  created: number;
  alreadyPresent: number;
  rejected: number;
}

const duration = (seconds: number) => {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${String(h)}:${String(m).padStart(2, '0')}:${rest}` : `${String(m)}:${rest}`;
};

export class Progress {
  private readonly started = Date.now();
  private last = 0;
  private readonly tty: boolean;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly total: number,
    private readonly skipped: number,
  ) {
    this.tty = stream.isTTY;
    if (skipped > 0) this.stream.write(`resuming after row ${String(skipped)} (done in an earlier run)\n`);
  }

  private line(done: number, counts: Counts): string {
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = elapsed > 0 ? (done - this.skipped) / elapsed : 0;
    const eta = rate > 0 ? Math.max(0, this.total - done) / rate : Infinity;
    const share = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const tail =
      `${String(done)}/${String(this.total)} rows · ${rate.toFixed(0)} rows/s · ETA ${duration(eta)} · ` +
      `created ${String(counts.created)} · present ${String(counts.alreadyPresent)} · rejected ${String(counts.rejected)}`;
    if (!this.tty) return `progress: ${(share * 100).toFixed(0)}% ${tail}`;
    const filled = Math.round(share * BAR_WIDTH);
    return `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${(share * 100).toFixed(0).padStart(3)}% ${tail}`;
  }

  update(done: number, counts: Counts, _seen: number): void {
    const now = Date.now();
    if (now - this.last < (this.tty ? REDRAW_EVERY_MS : PLAIN_EVERY_MS)) return;
    this.last = now;
    this.stream.write(this.tty ? `\r\x1b[2K${this.line(done, counts)}` : `${this.line(done, counts)}\n`);
  }

  finish(done: number, counts: Counts): void {
    this.stream.write(this.tty ? `\r\x1b[2K${this.line(done, counts)}\n` : `${this.line(done, counts)}\n`);
  }
}
