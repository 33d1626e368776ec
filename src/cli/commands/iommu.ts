/** `glasspane iommu`: IOMMU groups and their devices; which groups a guest can take whole. */
import type { Command } from 'commander';
import { HostRoot } from '../../vm/host-root.js';
import { exitStatusHelp } from '../exit-codes.js';
import { isWholePassthroughGroup, listIommuGroups, xorgBusId, type IommuGroup } from '../../vm/pci.js';

/** The --json shape: exactly the keys documented for scripts. */
export function iommuJson(groups: IommuGroup[]): unknown {
  return {
    groups: groups.map((g) => ({
      id: g.id,
      devices: g.devices.map((d) => ({
        address: d.address,
        class: d.class,
        vendor: d.vendor,
        device: d.device,
        driver: d.driver,
        bootVga: d.bootVga,
        resetMethods: d.resetMethods,
      })),
    })),
  };
}

/**
 * The groups as text for a terminal: one header line per group (marked when one card can be passed
 * through whole), one line per device.
 */
export function formatGroups(groups: IommuGroup[]): string {
  const lines: string[] = [];
  for (const g of groups) {
    lines.push(`IOMMU group ${g.id}${isWholePassthroughGroup(g) ? '  [one card: can be passed through whole]' : ''}`);
    for (const d of g.devices) {
      const ids = `[${d.vendor.replace(/^0x/, '')}:${d.device.replace(/^0x/, '')}]`;
      const extra = [d.bootVga ? 'boot VGA' : '', d.resetMethods.length ? `reset: ${d.resetMethods.join(' ')}` : 'no reset method'].filter(Boolean).join(', ');
      lines.push(`  ${d.address}  class ${d.class.replace(/^0x/, '')} ${ids}  driver ${d.driver ?? '(none)'}  ${extra}`);
    }
  }
  return lines.length ? lines.join('\n') : 'no IOMMU groups: the IOMMU is off (run `glasspane doctor`)';
}

/**
 * Adds `glasspane iommu` to `program` (see ./program.ts: registered only when the user names it).
 * Its action writes to stdout/stderr, sets process.exitCode for the outcomes that are not errors,
 * and throws GlasspaneErrors that main() turns into a message and an exit status (exit-codes.ts).
 */
export function registerIommu(program: Command): void {
  program
    .command('iommu')
    .description('list IOMMU groups with their devices (address, class, ids, driver, boot VGA, reset methods)')
    .option('--root <dir>', 'read /sys under this directory instead of /', '/')
    .option('--json', 'print {"groups": [{"id", "devices": [{"address", "class", "vendor", "device", "driver", "bootVga", "resetMethods"}]}]}')
    .option('--xorg-busid <address>', 'print the xorg.conf BusID line for a PCI address (hex numbers become decimal) and exit')
    .addHelpText('after', `\nExamples:\n  glasspane iommu\n  glasspane iommu --json\n  glasspane iommu --xorg-busid 0000:32:00.0   # BusID "PCI:50:0:0"${exitStatusHelp()}`)
    .action(async (o: { root: string; json?: boolean; xorgBusid?: string }) => {
      if (o.xorgBusid) {
        // The line as it goes into an xorg.conf "Device" section.
        process.stdout.write(`BusID "${xorgBusId(o.xorgBusid)}"\n`);
        return;
      }
      const groups = await listIommuGroups(new HostRoot(o.root));
      process.stdout.write(o.json ? `${JSON.stringify(iommuJson(groups))}\n` : `${formatGroups(groups)}\n`);
    });
}
