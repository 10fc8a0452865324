/**
 * Kernel registrations that fix or speed up a backend's gradients, one module per backend.
 * Called by `useBackend` after the backend package is loaded and before it is used.
 */
const registered = new Set<string>();

export function registerKernelFixes(tfBackendName: string): void {
  if (registered.has(tfBackendName)) return;
  registered.add(tfBackendName);
  // Per-backend registrations are added here (see wasm/).
}
