/**
 * ClipboardBridge's policy with in-memory sides (the real SDL clipboard and a real SPICE agent
 * are in test/viewer/clipboard.test.ts): what is offered when, no echo of text we took from
 * the guest, and failures reported instead of thrown.
 */
import { describe, expect, it } from 'vitest';
import { ClipboardBridge, type GuestClipboard, type HostClipboard } from '../../src/viewer/clipboard-bridge.js';
import { ClipboardType } from '../../src/spice/agent.js';

function sides(guestText: () => Promise<string> = async () => 'guest text') {
  const calls: string[] = [];
  const host: HostClipboard & { value: string } = {
    value: '',
    get text() {
      return this.value;
    },
    setText(t: string) {
      calls.push(`host.set ${t}`);
      this.value = t;
    },
  };
  const guest: GuestClipboard = {
    clipboardGrabText: () => calls.push('guest.grab'),
    clipboardRelease: () => calls.push('guest.release'),
    clipboardRequestText: () => {
      calls.push('guest.request');
      return guestText();
    },
  };
  const problems: string[] = [];
  const bridge = new ClipboardBridge((m) => problems.push(m));
  bridge.attachGuest(guest);
  bridge.attachHost(host);
  return { host, calls, problems, bridge };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('ClipboardBridge', () => {
  it('offers nothing until the guest agent is up, then offers the host text once', () => {
    const { host, calls, bridge } = sides();
    host.value = 'hello';
    bridge.hostMaybeChanged();
    expect(calls).toEqual([]);
    bridge.handlers.agentState!(true);
    bridge.hostMaybeChanged();
    expect(calls).toEqual(['guest.grab']);
    expect(bridge.handlers.hostText!()).toBe('hello');
  });

  it('offers again on a change, releases when the host clipboard empties', () => {
    const { host, calls, bridge } = sides();
    bridge.handlers.agentState!(true);
    expect(calls).toEqual([]); // empty host clipboard: nothing to offer, nothing to release yet
    host.value = 'one';
    bridge.hostMaybeChanged();
    host.value = 'two';
    bridge.hostMaybeChanged();
    host.value = '';
    bridge.hostMaybeChanged();
    expect(calls).toEqual(['guest.grab', 'guest.grab', 'guest.release']);
    expect(bridge.handlers.hostText!()).toBeUndefined();
  });

  it('puts guest text on the host and does not bounce it back', async () => {
    const { host, calls, bridge } = sides();
    bridge.handlers.agentState!(true);
    bridge.handlers.guestGrab!([ClipboardType.UTF8_TEXT]);
    await tick();
    expect(host.value).toBe('guest text');
    bridge.hostMaybeChanged(); // the host clipboard's update event for our own setText
    expect(calls).toEqual(['guest.request', 'host.set guest text']);
  });

  it('ignores a guest offer without text', async () => {
    const { calls, bridge } = sides();
    bridge.handlers.agentState!(true);
    bridge.handlers.guestGrab!([ClipboardType.PNG]);
    await tick();
    expect(calls).toEqual([]);
  });

  it('reports a failed guest request and keeps the host clipboard', async () => {
    const { host, problems, bridge } = sides(async () => {
      throw new Error('the guest agent did not send its clipboard within 2000 ms');
    });
    host.value = 'mine';
    bridge.handlers.agentState!(true);
    bridge.handlers.guestGrab!([ClipboardType.UTF8_TEXT]);
    await tick();
    expect(host.value).toBe('mine');
    expect(problems).toEqual(['clipboard: the guest agent did not send its clipboard within 2000 ms']);
  });

  it('offers the host text again after the agent restarts', () => {
    const { host, calls, bridge } = sides();
    host.value = 'kept';
    bridge.handlers.agentState!(true);
    bridge.handlers.agentState!(false);
    bridge.handlers.agentState!(true);
    expect(calls).toEqual(['guest.grab', 'guest.grab']);
  });

  it('stops taking guest text once the host side is detached (window closed)', async () => {
    const { host, calls, bridge } = sides();
    bridge.handlers.agentState!(true);
    bridge.detachHost();
    bridge.handlers.guestGrab!([ClipboardType.UTF8_TEXT]);
    await tick();
    expect(host.value).toBe('');
    expect(calls).toEqual(['guest.request']);
    expect(bridge.handlers.hostText!()).toBeUndefined();
  });
});
