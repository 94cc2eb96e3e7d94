// `warden mcp`: MCP over stdio for clients that launch a local command (Claude Desktop,
// Claude Code's stdio servers). A thin bridge: every JSON-RPC message is forwarded to the
// gateway's /mcp with the caller's token (WARDEN_TOKEN or the stored login), so identity,
// policy, recording and masking all stay in the gateway. Nothing is decided here.
import type { Command } from 'commander';
import { Option } from 'commander';
import { gatewayToken } from './backend.ts';

export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description('MCP server on stdio, forwarding to the gateway\'s /mcp as you (WARDEN_TOKEN or the stored login)')
    .addOption(new Option('--gateway <url>', 'gateway URL (default: $WARDEN_GATEWAY)'))
    .action(async (opts: { gateway?: string }) => {
      const base = opts.gateway ?? process.env.WARDEN_GATEWAY;
      if (!base) throw new Error('warden mcp needs a gateway: --gateway URL or WARDEN_GATEWAY');
      const token = await gatewayToken();
      // The MCP SDK is loaded when the command runs, not with every CLI command (main.ts).
      const [{ StdioServerTransport }, { StreamableHTTPClientTransport }] = await Promise.all([import('@modelcontextprotocol/server/stdio'), import('@modelcontextprotocol/client')]);
      const upstream = new StreamableHTTPClientTransport(new URL('/mcp', base), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
      const local = new StdioServerTransport();
      // stdout carries the protocol; diagnostics go to stderr only.
      const fail = (where: string) => (e: Error) => process.stderr.write(`warden mcp: ${where}: ${e.message}\n`);
      upstream.onerror = fail('gateway');
      local.onerror = fail('stdio');
      upstream.onmessage = (m) => void local.send(m).catch(fail('stdio'));
      local.onmessage = (m) => void upstream.send(m).catch((e: Error) => {
        fail('gateway')(e);
        // Answer the request so the client is not left waiting for a reply that will never come.
        if ('id' in m && 'method' in m) void local.send({ jsonrpc: '2.0', id: m.id, error: { code: -32603, message: `warden gateway: ${e.message}` } });
      });
      const done = new Promise<void>((resolve) => (local.onclose = resolve));
      await upstream.start();
      await local.start();
      process.stdin.on('end', () => void local.close());
      await done;
      await upstream.close();
    });
}
