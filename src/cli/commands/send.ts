/**
 * `glasspane send`: scriptable keyboard and mouse input to a VM over SPICE, like `virsh send-key`.
 *
 *   glasspane send --spice 127.0.0.1:5900 key KeyA ControlRight Control+Alt+Delete
 *   glasspane send --spice unix:/run/vm/spice.sock mouse move 10 -5 click left wheel up
 *
 * Everything is parsed and checked before connecting, so a typo never sends half a sequence.
 * The password comes from --spice-password-file or GLASSPANE_SPICE_PASSWORD, never from argv
 * (argv is visible to every user in `ps`).
 */
import type { Command } from 'commander';
import { parseSpiceAddress } from '../../spice/address.js';
import { SpiceClient } from '../../spice/client.js';
import { SpiceError } from '../../spice/errors.js';
import { PASSWORD_ENV, readSpicePassword } from '../../spice/password.js';
import type { InputsChannel } from '../../spice/inputs-channel.js';
import { SpiceButton } from '../../spice/protocol.js';
import { parseKeyArgs, parseMouseArgs, type MouseStep } from '../../spice/input-steps.js';
import { intOption } from '../options.js';
import { exitStatusHelp } from '../exit-codes.js';


/**
 * Performs one mouse step; `pause()` is awaited after every message so a guest that drains its
 * PS/2 queue slowly (16 bytes in QEMU; a TCG guest, a busy guest) loses nothing.
 */
async function applyMouse(inputs: InputsChannel, step: MouseStep, pause: () => Promise<void>): Promise<void> {
  const button = async (id: number, down: boolean) => {
    inputs.button(id, down);
    await pause();
  };
  switch (step.op) {
    case 'move':
      inputs.motion(step.dx, step.dy);
      return pause();
    case 'click':
      await button(step.button, true);
      return button(step.button, false);
    case 'press':
      return button(step.button, true);
    case 'release':
      return button(step.button, false);
    case 'wheel': {
      const id = step.notches < 0 ? SpiceButton.UP : SpiceButton.DOWN;
      for (let i = 0; i < Math.abs(step.notches); i++) {
        await button(id, true);
        await button(id, false);
      }
      return;
    }
  }
}

interface SendOptions {
  spice: string;
  spicePasswordFile?: string;
  timeout: number;
  delayMs: number;
}

/**
 * The link went away mid-sequence: what was sent after that is lost, so say so and fail rather
 * than exit 0 with half the keys typed. The error keeps the code of what ended it (a protocol
 * error names the message and field, a missed MOTION_ACK is a timeout); only a plain close is
 * blamed on another client or a stopped QEMU.
 */
function lost(client: SpiceClient): SpiceError {
  const cause = client.state.error;
  const rest = 'before everything was sent; the rest of the sequence did not reach the VM';
  if (cause && cause.code !== 'ERR_SPICE_CLOSED') {
    return new SpiceError(cause.code, `${cause.message}; that ended the session ${rest}`, cause.fix, { cause, linkError: cause.linkError });
  }
  return new SpiceError(
    'ERR_SPICE_CLOSED',
    `${cause?.message ?? 'SPICE connection closed'} ${rest}`,
    'another SPICE client (a viewer?) took the session over, or QEMU stopped; run send again, with the sequence shortened or without the other client',
    { cause },
  );
}

async function withInputs(opts: SendOptions, run: (inputs: InputsChannel, pause: () => Promise<void>, client: SpiceClient) => Promise<void>): Promise<void> {
  const address = parseSpiceAddress(opts.spice);
  const password = readSpicePassword(opts.spicePasswordFile);
  const delayMs = opts.delayMs;
  // A full motion window waits for the server's MOTION_ACK at most --timeout: then the inputs
  // channel ends with ERR_SPICE_TIMEOUT and `lost()` says so (nothing here waits forever).
  const client = new SpiceClient({ address, password, timeoutMs: opts.timeout, motionAckTimeoutMs: opts.timeout });
  // Waits until what was asked is on the wire, then `delayMs`: the server applies each message
  // when it arrives, so the guest sees the events spaced out.
  const pause = async () => {
    await client.inputs?.drain();
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (!client.inputs) throw lost(client);
  };
  try {
    await client.connect();
    const inputs = client.inputs;
    if (!inputs) throw new SpiceError('ERR_SPICE_CLOSED', 'SPICE inputs channel closed right after linking', 'check that no other SPICE client took the session over');
    await run(inputs, pause, client);
    await inputs.drain();
    if (!client.inputs) throw lost(client);
  } finally {
    // Graceful close: the server applies everything written before it sees EOF.
    await client.close();
  }
}

/**
 * Adds `glasspane send key|mouse` to `program` (see ./program.ts: registered only when the user
 * names it). Its action writes to stdout/stderr, sets process.exitCode for the outcomes that are
 * not errors, and throws GlasspaneErrors that main() turns into a message and an exit status
 * (exit-codes.ts). Every argument is parsed before connecting (a bad key, address or password
 * file exits 2); a server that cannot be reached or refuses the link exits 4.
 */
export function registerSend(program: Command): void {
  const send = program
    .command('send')
    .description('send keys or mouse actions to a VM over SPICE (like virsh send-key)')
    .requiredOption('--spice <addr>', 'SPICE server: HOST:PORT or unix:/path/to/socket')
    .option('--spice-password-file <file>', `file holding the SPICE password (else $${PASSWORD_ENV}; never on the command line)`)
    .option('--timeout <ms>', 'link timeout in milliseconds; also how long mouse motion waits for the server to acknowledge it', intOption('--timeout', 1, 600_000), 10_000)
    .option('--delay-ms <ms>', 'pause after each press, release and move, so a slow guest drains its PS/2 queue', intOption('--delay-ms', 0, 60_000), 30)
    .addHelpText(
      'after',
      `
Examples:
  glasspane send --spice 127.0.0.1:5900 key KeyA ControlRight NumpadEnter Pause
  glasspane send --spice unix:/run/vm/spice.sock key Control+Alt+Delete
  glasspane send --spice 127.0.0.1:5900 mouse move 10 -5 click left wheel up
  GLASSPANE_SPICE_PASSWORD=... glasspane send --spice 127.0.0.1:5900 key MetaLeft
Keys are KeyboardEvent.code names (physical keys; the guest applies its own layout).
On success it says on stderr what was sent, and where.${exitStatusHelp()}`,
    );

  send
    .command('key')
    .description('press and release each key in turn; A+B+C presses a chord (released in reverse)')
    .argument('<keys...>', 'KeyboardEvent.code names, e.g. KeyA ControlRight NumpadEnter Control+Alt+Delete')
    .addHelpText('after', `\nExamples:\n  glasspane send --spice 127.0.0.1:5900 key KeyA Control+Alt+Delete${exitStatusHelp()}`)
    .action(async (keys: string[], _opts: unknown, cmd: Command) => {
      const steps = parseKeyArgs(keys);
      await withInputs(cmd.optsWithGlobals() as SendOptions, async (inputs, pause) => {
        for (const step of steps) {
          for (const sc of step.scancodes) {
            inputs.keyDown(sc);
            await pause();
          }
          for (const sc of [...step.scancodes].reverse()) {
            inputs.keyUp(sc);
            await pause();
          }
        }
      });
      // A message, not data: stdout stays empty for scripts.
      process.stderr.write(`glasspane: sent ${steps.length} key${steps.length === 1 ? '' : 's'} (${keys.join(' ')}) to ${(cmd.optsWithGlobals() as SendOptions).spice}\n`);
    });

  send
    .command('mouse')
    .description('perform mouse actions in order: move DX DY, click|press|release BUTTON, wheel up|down [N]')
    .argument('<actions...>', 'e.g. move 10 -5 click left click right wheel up')
    .addHelpText('after', `\nExamples:\n  glasspane send --spice 127.0.0.1:5900 mouse move 10 -5 click left wheel up 3${exitStatusHelp()}`)
    .allowExcessArguments(true)
    .action(async (actions: string[], _opts: unknown, cmd: Command) => {
      const steps = parseMouseArgs(actions);
      await withInputs(cmd.optsWithGlobals() as SendOptions, async (inputs, pause, client) => {
        if (client.state.mouseMode === 'client' && steps.some((s) => s.op === 'move')) {
          // The server ignores relative motion in client mode (another client asked for it).
          process.stderr.write('glasspane: warning: the VM is in SPICE client (absolute) mouse mode, which ignores relative moves; clicks and wheel still work\n');
        }
        // A `press` without a `release` is left pressed on purpose (drag across two calls).
        for (const step of steps) await applyMouse(inputs, step, pause);
      });
      process.stderr.write(`glasspane: sent ${steps.length} mouse action${steps.length === 1 ? '' : 's'} (${actions.join(' ')}) to ${(cmd.optsWithGlobals() as SendOptions).spice}\n`);
    });
}
