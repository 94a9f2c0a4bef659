import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

/** Linux reports process times in clock ticks; 100 a second on every mainstream architecture. */
const TICKS_PER_SECOND = 100;

/** A process's own CPU time and that of its exited, reaped children, in ms, with its parent's pid. */
function stat(pid: string): { ppid: string; cpuMs: number; reapedMs: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may contain spaces: split after its closing parenthesis.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ").map(Number);
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
    const ms = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;
    return { ppid: String(fields[1]), cpuMs: ms(fields[11]! + fields[12]!), reapedMs: ms(fields[13]! + fields[14]!) };
  } catch {
    return undefined;
  }
}

/**
 * CPU time used so far by a PostgreSQL server (the postmaster, every live child: backends, WAL writer, ..., and the
 * children it has reaped), read from /proc. Returns a function giving ms, or undefined where /proc or postmaster.pid
 * cannot be read (not Linux).
 */
export function postgresCpu(dataDir: string): (() => number) | undefined {
  let postmaster: string;
  try {
    postmaster = readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]!.trim();
    readdirSync("/proc");
  } catch {
    return undefined;
  }
  if (!stat(postmaster)) return undefined;
  return () => {
    let total = 0;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      const s = stat(pid);
      if (!s) continue;
      if (pid === postmaster) total += s.cpuMs + s.reapedMs;
      else if (s.ppid === postmaster) total += s.cpuMs;
    }
    return total;
  };
}
