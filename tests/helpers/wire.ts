import net from "node:net";

/**
 * Statements this process sends to the Postgres listening on `port` while `run` runs: Execute (extended protocol) and
 * Query (simple protocol) messages, counted on the wire. A simple Query message holding several statements counts once.
 */
export async function statementsSent<T>(port: number, run: () => Promise<T>): Promise<{ value: T; statements: number }> {
  const write = net.Socket.prototype.write;
  let statements = 0;
  net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    if (this.remotePort === port && Buffer.isBuffer(chunk)) {
      for (let at = 0; at + 5 <= chunk.length; at += 1 + chunk.readInt32BE(at + 1)) {
        if (chunk[at] === 0x45 /* Execute */ || chunk[at] === 0x51 /* Query */) statements++;
      }
    }
    return (write as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof net.Socket.prototype.write;
  try {
    return { value: await run(), statements };
  } finally {
    net.Socket.prototype.write = write;
  }
}
