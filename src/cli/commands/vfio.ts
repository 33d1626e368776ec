/**
 * `glasspane vfio bind|unbind|restore|remove-bridge`: lend PCI devices to vfio-pci and give them
 * back, with a journal, rollback and a timeout on every sysfs write.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { GlasspaneError } from '../../errors.js';
import { HostRoot } from '../../vm/host-root.js';
import { readJournal } from '../../vm/journal.js';
import { defaultStateDir } from '../../vm/vm-state.js';
import { normalizePciAddress, requirePciDevice } from '../../vm/pci.js';
import { ChildProcessWriter, RecordingWriter, type SysfsWriter } from '../../vm/sysfs-writer.js';
import { bindDevices, formatBlockers, planBindChecked, planRestore, planWrites, unbindDevices, restoreFromJournal, type PlannedWrite, type VfioContext } from '../../vm/vfio.js';
import { numberOption } from '../options.js';
import { exitStatusHelp } from '../exit-codes.js';

interface CommonOptions {
  root: string;
  journal?: string;
  timeout: number;
  dryRun?: boolean;
}

/** The journal lives under --root too, so a fake tree carries its own; /run is wiped at reboot. */
export function defaultJournalPath(root: string): string {
  return root === '/' ? path.join(defaultStateDir(), 'vfio-journal.json') : path.join(path.resolve(root), 'run/glasspane/vfio-journal.json');
}

function context(o: CommonOptions, writer?: SysfsWriter): VfioContext {
  const host = new HostRoot(o.root);
  return {
    host,
    writer: writer ?? new ChildProcessWriter(host, o.timeout * 1000),
    journalPath: o.journal ? path.resolve(o.journal) : defaultJournalPath(o.root),
    log: (l) => process.stderr.write(`${l}\n`),
  };
}

/** Planned writes as the shell commands they stand for (`echo VALUE > PATH    # why`), for --dry-run. */
export function formatWrites(writes: PlannedWrite[]): string {
  if (writes.length === 0) return '(no sysfs writes needed)';
  return writes.map((w) => `echo ${JSON.stringify(w.value === '\n' ? '' : w.value)} > ${w.path}    # ${w.why}`).join('\n');
}

/** The options every vfio command takes; --journal only where a journal is read or written. */
function common(cmd: Command, { journal = true } = {}): Command {
  cmd.option('--root <dir>', 'work on the host tree under this directory instead of / (captured trees, tests)', '/');
  if (journal) cmd.option('--journal <file>', 'journal file (default: /run/glasspane/vfio-journal.json, under --root when given)');
  return cmd
    .option('--timeout <seconds>', 'give up on a sysfs write that has not returned after this long', numberOption('--timeout', 0.1, 600), 10)
    .option('--dry-run', 'print every planned sysfs write and change nothing');
}

/**
 * Adds `glasspane vfio bind|unbind|restore|remove-bridge` to `program` (see ./program.ts:
 * registered only when the user names it). Its action writes to stdout/stderr, sets
 * process.exitCode for the outcomes that are not errors, and throws GlasspaneErrors that main()
 * turns into a message and an exit status (exit-codes.ts). Real writes need root; --dry-run only
 * reads.
 */
export function registerVfio(program: Command): void {
  const vfio = program
    .command('vfio')
    .description('lend PCI devices to vfio-pci and give them back (journal, rollback, timeouts)')
    .addHelpText('after', `\nExamples:\n  sudo glasspane vfio bind 0000:2f:00.0 0000:2f:00.1\n  sudo glasspane vfio restore${exitStatusHelp()}`);

  common(vfio.command('bind'))
    .description('bind devices to vfio-pci by address (driver_override; two identical cards work)')
    .argument('<address...>', 'PCI addresses, e.g. 0000:2f:00.0 0000:2f:00.1 (the whole IOMMU group)')
    .option('--force-boot-gpu', 'allow taking the boot GPU / the framebuffer device')
    .option('--unbind-console', 'also unbind the firmware framebuffer and framebuffer consoles (journaled, restored)')
    .addHelpText('after', `\nExamples:\n  sudo glasspane vfio bind 0000:2f:00.0 0000:2f:00.1\n  glasspane vfio bind 0000:2f:00.0 --dry-run    # the writes, and every blocker (no IOMMU, group, boot GPU, vfio-pci)${exitStatusHelp({ 1: '--dry-run found blockers (listed after the writes)' })}`)
    .action(async (addresses: string[], o: CommonOptions & { forceBootGpu?: boolean; unbindConsole?: boolean }) => {
      const opts = { forceBootGpu: o.forceBootGpu, unbindConsole: o.unbindConsole };
      if (o.dryRun) {
        // The whole plan and everything in its way: a preview, not the first refusal.
        const { plan, blockers } = await planBindChecked(new HostRoot(o.root), addresses, opts);
        process.stdout.write(`# journal: ${context(o).journalPath}\n${formatWrites(planWrites(plan))}\n${blockers.length ? `${formatBlockers(blockers)}\n` : ''}`);
        if (blockers.length) {
          process.stderr.write(`glasspane: the bind would be refused: ${blockers.length} blocker(s), listed with their fixes after the planned writes\n`);
          process.exitCode = 1;
        }
        return;
      }
      const plan = await bindDevices(context(o), addresses, opts);
      process.stdout.write(`${plan.devices.map((d) => `${d.address}: vfio-pci`).join('\n')}\n`);
    });

  common(vfio.command('unbind'))
    .description('give devices back to their host drivers (the journaled ones, else whatever the kernel probes)')
    .argument('<address...>', 'PCI addresses')
    .addHelpText('after', `\nExamples:\n  sudo glasspane vfio unbind 0000:2f:00.0 0000:2f:00.1\n  glasspane vfio unbind 0000:2f:00.0 --dry-run    # the writes that would give it back${exitStatusHelp()}`)
    .action(async (addresses: string[], o: CommonOptions) => {
      if (o.dryRun) {
        const ctx = context(o, new RecordingWriter());
        const j = await readJournal(ctx.journalPath);
        const wanted = addresses.map(normalizePciAddress);
        for (const a of wanted) await requirePciDevice(ctx.host, a);
        const writes = j ? await planRestore(ctx.host, { ...j, devices: j.devices.filter((d) => wanted.includes(d.address)), framebuffers: [], consoles: [] }) : [];
        process.stdout.write(`${formatWrites(writes)}\n`);
        return;
      }
      const lines = await unbindDevices(context(o), addresses);
      if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
    });

  common(vfio.command('restore'))
    .description('replay the journal left by an interrupted bind or a crashed VM: every device, framebuffer and console back')
    .addHelpText('after', `\nExamples:\n  sudo glasspane vfio restore\n  sudo glasspane vfio restore --journal /run/glasspane/win11.journal.json    # what \`vm up\` left\n  glasspane vfio restore --dry-run${exitStatusHelp()}`)
    .action(async (o: CommonOptions) => {
      const ctx = context(o);
      if (o.dryRun) {
        const j = await readJournal(ctx.journalPath);
        process.stdout.write(j ? `${formatWrites(await planRestore(ctx.host, j))}\n` : `no journal at ${ctx.journalPath}: nothing to restore\n`);
        return;
      }
      const done = await restoreFromJournal(ctx);
      process.stdout.write(done ? 'host restored\n' : `no journal at ${ctx.journalPath}: nothing to restore\n`);
    });

  common(vfio.command('remove-bridge'), { journal: false })
    .description('opt-in recipe: remove a PCI bridge (and everything below it), then rescan the bus (not journaled: the rescan is the way back)')
    .argument('<address>', 'the bridge, e.g. 0000:00:01.0')
    .addHelpText('after', `\nExamples:\n  glasspane vfio remove-bridge 0000:00:01.0 --dry-run\n  sudo glasspane vfio remove-bridge 0000:00:01.0${exitStatusHelp()}`)
    .action(async (address: string, o: CommonOptions) => {
      const ctx = context(o);
      const dev = await requirePciDevice(ctx.host, normalizePciAddress(address));
      if (parseInt(dev.class, 16) >> 8 !== 0x0604) {
        throw new GlasspaneError('ERR_NOT_A_BRIDGE', `${dev.address} is class ${dev.class}, not a PCI bridge`, 'give the bridge above the card (see `glasspane iommu`)');
      }
      const writes: PlannedWrite[] = [
        { path: `/sys/bus/pci/devices/${dev.address}/remove`, value: '1', why: 'remove the bridge and the devices below it' },
        { path: '/sys/bus/pci/rescan', value: '1', why: 'rediscover them' },
      ];
      if (o.dryRun) {
        process.stdout.write(`${formatWrites(writes)}\n`);
        return;
      }
      for (const w of writes) await ctx.writer.write(w.path, w.value);
      process.stdout.write(`${dev.address} removed and rescanned\n`);
    });
}
