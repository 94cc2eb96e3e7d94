// Component tests of the console (web/src/**/*.test.tsx), run by `npm test` (scripts/test.mjs)
// in a simulated DOM (happy-dom); the browser itself is exercised by test/e2e/.
import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: new URL('.', import.meta.url).pathname,
  plugins: [react()],
  test: { environment: 'happy-dom', include: ['src/**/*.test.tsx'], css: false },
});
