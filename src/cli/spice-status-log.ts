/**
 * What `view --spice` says on stderr about its SPICE link, for a person reading the terminal:
 * the link coming up, each distinct problem once with its fix (a refused connection retried every
 * few seconds is said once, not on every retry), a lost link, and giving up. The OSD shows the
 * live state; this is the record, and the only sign when the window is not watched.
 */
import { describeSpiceStatus, type SpiceStatus } from '../spice/client.js';

/**
 * An onState callback for a SpiceClient that writes the lines described above through `write`,
 * each distinct state or problem once in a row. Keeps only the last line's key; never throws
 * (unless `write` does).
 */
export function spiceStatusLogger(write: (line: string) => void): (s: SpiceStatus) => void {
  let last = '';
  return (s) => {
    let key: string;
    let line: string;
    switch (s.state) {
      case 'connected':
        key = 'connected';
        line = describeSpiceStatus(s);
        break;
      case 'waiting':
      case 'failed': {
        // (An 'idle' with an error only comes just before one of these, which carry it too.)
        if (!s.error) {
          key = 'lost';
          line = 'SPICE: the link was lost; reconnecting';
          break;
        }
        key = `${s.state}|${s.error.code}|${s.error.message}`;
        line = `SPICE: ${s.error.message}; ${s.state === 'failed' ? 'giving up' : 'retrying in the background'}${s.error.fix ? `\n  fix: ${s.error.fix}` : ''}`;
        break;
      }
      default:
        return;
    }
    if (key === last) return;
    last = key;
    write(line);
  };
}
