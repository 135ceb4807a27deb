/**
 * Server-sent events, incrementally: feed text as it arrives, get each complete event's data
 * (its `data:` lines joined by newlines). Comments and other fields are skipped; a partial event
 * waits for the next chunk. https://html.spec.whatwg.org/multipage/server-sent-events.html
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];

  /** Returns the data of every event that `chunk` completes. */
  push(chunk: string): string[] {
    this.buffer += chunk;
    const events: string[] = [];
    for (;;) {
      const end = this.buffer.search(/\r\n|\r|\n/);
      // A lone '\r' at the end may be the first half of '\r\n': wait for more.
      if (end < 0 || (this.buffer[end] === '\r' && end === this.buffer.length - 1)) break;
      const line = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + (this.buffer.startsWith('\r\n', end) ? 2 : 1));
      if (line === '') {
        if (this.data.length > 0) events.push(this.data.join('\n'));
        this.data = [];
      } else if (line.startsWith('data:')) {
        this.data.push(line.slice(line[5] === ' ' ? 6 : 5));
      }
    }
    return events;
  }
}
