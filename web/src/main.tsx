import '@mantine/core/styles.css';
import './styles.css';
import { createRoot } from 'react-dom/client';
import { MantineProvider, createTheme, localStorageColorSchemeManager } from '@mantine/core';
import { App } from './App.tsx';

// Darker primary shades so white text on buttons meets WCAG AA contrast in both themes.
const theme = createTheme({ primaryColor: 'indigo', primaryShade: { light: 8, dark: 7 }, autoContrast: true, luminanceThreshold: 0.4, respectReducedMotion: true });
// Only the colour scheme is kept in local storage; never a token.
const colorSchemeManager = localStorageColorSchemeManager({ key: 'warden-color-scheme' });

createRoot(document.getElementById('root')!).render(
  <MantineProvider theme={theme} defaultColorScheme="auto" colorSchemeManager={colorSchemeManager}>
    <App />
  </MantineProvider>,
);
