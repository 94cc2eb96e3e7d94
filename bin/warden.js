#!/usr/bin/env node
// The `warden` binary. Sources are TypeScript run through tsx's loader, so an
// `npm install` is all a checkout needs (no build step between edit and run).
import { register } from 'tsx/esm/api';
register();
await import('../src/cli/main.ts');
