import { mkdirSync, mkdtempSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { MemoryAdmission, readCgroupMemory } from '../../lib/bridge/memory';

const MiB = 1024 * 1024;

describe('reading the container cgroup', () => {
  test('cgroup v2: memory.max and memory.current less inactive file cache', () => {
    const root = mkdtempSync(join(tmpdir(), 'cg2-'));
    writeFileSync(join(root, 'memory.max'), `${512 * MiB}\n`);
    writeFileSync(join(root, 'memory.current'), `${300 * MiB}\n`);
    writeFileSync(join(root, 'memory.stat'), `anon 1\ninactive_file ${100 * MiB}\nactive_file 5\n`);
    expect(readCgroupMemory(root)).toEqual({ limit: 512 * MiB, workingSet: 200 * MiB });
    writeFileSync(join(root, 'memory.max'), 'max\n');
    expect(readCgroupMemory(root)).toBeUndefined();
  });

  test('cgroup v1: limit_in_bytes and usage_in_bytes less total_inactive_file; the no-limit value means none', () => {
    const root = mkdtempSync(join(tmpdir(), 'cg1-'));
    mkdirSync(join(root, 'memory'));
    writeFileSync(join(root, 'memory/memory.limit_in_bytes'), `${256 * MiB}\n`);
    writeFileSync(join(root, 'memory/memory.usage_in_bytes'), `${250 * MiB}\n`);
    writeFileSync(join(root, 'memory/memory.stat'), `cache 1\ntotal_inactive_file ${50 * MiB}\n`);
    expect(readCgroupMemory(root)).toEqual({ limit: 256 * MiB, workingSet: 200 * MiB });
    writeFileSync(join(root, 'memory/memory.limit_in_bytes'), '9223372036854771712\n');
    expect(readCgroupMemory(root)).toBeUndefined();
  });

  test('no cgroup files: no limit known', () => {
    expect(readCgroupMemory(mkdtempSync(join(tmpdir(), 'cg0-')))).toBeUndefined();
  });
});

describe('admission by memory', () => {
  test('admits while the working set plus sessions still growing fits 85% of the limit, then refuses with numbers', () => {
    let now = 0;
    const reading = { limit: 512 * MiB, workingSet: 150 * MiB };
    const admission = new MemoryAdmission({ sessionBytes: 90 * MiB, read: () => reading, now: () => now });
    // 435 MiB budget: 150 + 90, + 180, + 270 fit; a fourth in the same moment (150 + 360) does not.
    expect(admission.admit()).toBeUndefined();
    expect(admission.admit()).toBeUndefined();
    expect(admission.admit()).toBeUndefined();
    const refused = admission.admit();
    expect(refused?.message).toMatch(/near its memory limit \(150 MiB of 512 MiB in use; a session needs about 90 MiB\)/);
    // Once the sessions' processes have grown, the working set counts them instead of the estimate.
    now = 6_000;
    reading.workingSet = 420 * MiB;
    expect(admission.admit()).toBeDefined();
    reading.workingSet = 300 * MiB;
    expect(admission.admit()).toBeUndefined();
  });

  test('a larger measured session raises the estimate', () => {
    const admission = new MemoryAdmission({ sessionBytes: 50 * MiB, read: () => ({ limit: 1024 * MiB, workingSet: 600 * MiB }) });
    admission.observeSession(300 * MiB);
    expect(admission.admit()?.message).toContain('300 MiB');
  });

  test('without a memory limit everything is admitted', () => {
    const admission = new MemoryAdmission({ read: () => undefined });
    for (let i = 0; i < 1000; i++) expect(admission.admit()).toBeUndefined();
  });
});
