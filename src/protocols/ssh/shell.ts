// placeholder: replaced below
import type { ServerChannel } from 'ssh2';
import { endWith, EXIT_REFUSED, type ChannelContext, type ChannelState } from './exec.ts';

export async function runShell(_ctx: ChannelContext, ch: ServerChannel, _state: ChannelState, _dir: string): Promise<void> {
  endWith(ch, 'warden: shells are not available yet\r\n', EXIT_REFUSED);
}
