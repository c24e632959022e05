// What a benchmark reads about a process and the machine from /proc (Linux): CPU time, resident
// memory, load average. Clock ticks are USER_HZ, 100 on Linux.
import { readFileSync } from 'node:fs';

const USER_HZ = 100;

/** User and system CPU seconds a process has used (the kernel's work on its system calls included). */
export function processCpu(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / USER_HZ, system: Number(fields[12]) / USER_HZ };
}

/** User plus system CPU seconds a process has used. */
export function processCpuSeconds(pid: number): number {
  const { user, system } = processCpu(pid);
  return user + system;
}

/** A process's resident set, MiB to one decimal; 0 when /proc has no figure. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : 0;
}

/** The 1, 5 and 15 minute load averages, as /proc/loadavg prints them. */
export const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
