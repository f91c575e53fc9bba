// Per-image pooled unit activations (collect-activations `pool: avg | max`, CLIP-Dissect's pool_mode) and their
// reading back as CLIP-Dissect's target_feats (unit-major here: units × images).
import type { Table } from 'apache-arrow';
import type { TargetFeats } from '../../algo/clipdissect/index.ts';

/** The images-table column holding a layer's pooled values. */
export function poolColumn(layer: string): string {
  return `pool_${layer}`;
}

/**
 * Spatial mean (avg: output.mean(dim=[2,3])) or max (amax) of each unit's map, for a batch of NCHW activations
 * (n × units × hw). Returns n × units (image-major).
 */
export function poolMaps(data: Float32Array, n: number, units: number, hw: number, mode: 'avg' | 'max'): Float32Array {
  const out = new Float32Array(n * units);
  for (let k = 0; k < n * units; k++) {
    const o = k * hw;
    if (mode === 'max') {
      let m = -Infinity;
      for (let i = 0; i < hw; i++) m = data[o + i] > m || Number.isNaN(data[o + i]) ? data[o + i] : m;
      out[k] = m;
    } else {
      let s = 0;
      for (let i = 0; i < hw; i++) s += data[o + i];
      out[k] = s / hw;
    }
  }
  return out;
}

/** A layer's pooled values from collect-activations' images table, as units × images, plus the images' ids. */
export function pooledTargets(images: Table, layer: string): TargetFeats & { ids: string[]; imageIndex: Int32Array } {
  const col = images.getChild(poolColumn(layer));
  if (!col) throw new Error(`no pooled values for layer '${layer}' (collect-activations needs pool: avg | max)`);
  const N = images.numRows;
  const ids: string[] = [];
  const imageIndex = new Int32Array(N);
  const idCol = images.getChild('id')!, imgCol = images.getChild('image')!;
  let U = -1;
  let acts = new Float32Array(0);
  for (let i = 0; i < N; i++) {
    const v = col.get(i) as { toArray(): Float32Array };
    const row = v.toArray();
    if (U < 0) {
      U = row.length;
      acts = new Float32Array(U * N);
    }
    for (let u = 0; u < U; u++) acts[u * N + i] = row[u];
    ids.push(String(idCol.get(i)));
    imageIndex[i] = Number(imgCol.get(i));
  }
  return { acts, nUnits: Math.max(U, 0), nImages: N, ids, imageIndex };
}
