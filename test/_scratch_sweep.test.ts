import { it } from 'vitest';
import { tf } from '../src/tf.js';
import { activate } from './helpers/backends.js';
it('list', async () => {
  await activate('cpu'); await activate('wasm');
  const w = tf.getKernelsForBackend('wasm').map(k=>k.kernelName).sort();
  const c = new Set(tf.getKernelsForBackend('cpu').map(k=>k.kernelName));
  console.log(w.length, w.filter(n=>c.has(n)).length);
  console.log(w.filter(n=>c.has(n)).join(' '));
  console.log('wasm only:', w.filter(n=>!c.has(n)).join(' '));
  console.log('with grad:', w.filter(n=>tf.getGradient(n)!==undefined).join(' '));
});
