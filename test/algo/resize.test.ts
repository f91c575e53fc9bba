import { test } from 'node:test';
import assert from 'node:assert/strict';
import { axisTable, getResizer, resizeAlignCorners, resizeCv2, resizeMaps, resizePil } from '../../src/algo/resize.ts';

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, msg = ''): void {
  assert.equal(actual.length, expected.length, `${msg} length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tol, `${msg}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

test('cv2 convention: half-pixel centres, clamped edges (hand values)', () => {
  // 1×2 → 1×4: fx = (dx + 0.5)/2 − 0.5 = −0.25 (clamped → 0), 0.25, 0.75, 1.25 (clamped → 1)
  close(resizeCv2([0, 1], 1, 1, 2, 1, 4), [0, 0.25, 0.75, 1], 0);
  // 2×2 → 4×4 is separable: row weights = column weights
  const out = resizeCv2([0, 1, 2, 3], 1, 2, 2, 4, 4);
  const r = [0, 0.25, 0.75, 1];
  const exp: number[] = [];
  for (const y of r) for (const x of r) exp.push(2 * y + x);
  close(out, exp, 1e-7);
  // shrinking does not antialias: 1×4 → 1×2 samples at 0.5 and 2.5
  close(resizeCv2([0, 1, 2, 3], 1, 1, 4, 1, 2), [0.5, 2.5], 0);
});

test('align-corners convention, as torch UpsamplingBilinear2d (hand values)', () => {
  close(resizeAlignCorners([0, 1, 2], 1, 1, 3, 1, 5), [0, 0.5, 1, 1.5, 2], 0);
  close(resizeAlignCorners([0, 1, 2, 3], 1, 2, 2, 3, 3), [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3], 1e-7);
  // output size 1 → the first pixel (torch: scale 0)
  close(resizeAlignCorners([4, 5, 6], 1, 1, 3, 1, 1), [4], 0);
});

test('pil convention: same as cv2 when enlarging, antialiased triangle filter when shrinking (hand values)', () => {
  close(resizePil([0, 1], 1, 1, 2, 1, 4), [0, 0.25, 0.75, 1], 0);
  // 1×4 → 1×2: support 2; output 0: centre 1, taps 0..2 weights .75,.75,.25 (sum 1.75); output 1: taps 1..3 .25,.75,.75
  close(resizePil([0, 1, 2, 3], 1, 1, 4, 1, 2), [1.25 / 1.75, 4 / 1.75], 1e-6);
  // same size = identity
  close(resizePil([3, 1, 4, 1, 5, 9], 1, 2, 3, 2, 3), [3, 1, 4, 1, 5, 9], 0);
});

// Reference values computed with cv2 4.6 (cv2.resize(a, (4, 5), INTER_LINEAR)) and Pillow 9.4
// (Image.fromarray(a, 'F').resize((4, 5), BILINEAR)) on this float32 input.
const A23 = [0.1257302165031433, -0.13210485875606537, 0.6404226422309875, 0.10490011423826218, -0.5356693863868713, 0.3615950644016266];
const CV_5x4 = [0.1257302165031433, -0.03541670739650726, 0.15759295225143433, 0.6404226422309875, 0.12364719808101654, -0.06142061948776245, 0.12191412597894669, 0.6125398874282837, 0.11531516909599304, -0.1654362678527832, -0.020801126956939697, 0.5010088682174683, 0.10698312520980835, -0.26945191621780396, -0.16351637244224548, 0.38947781920433044, 0.10490011423826218, -0.29545581340789795, -0.19919520616531372, 0.3615950345993042];
const PIL_5x4 = [0.1257302165031433, -0.03541670739650726, 0.15759295225143433, 0.6404226422309875, 0.12364720553159714, -0.06142061948776245, 0.12191413342952728, 0.6125398874282837, 0.11531516909599304, -0.1654362678527832, -0.020801134407520294, 0.5010088682174683, 0.10698312520980835, -0.26945191621780396, -0.16351640224456787, 0.38947781920433044, 0.10490011423826218, -0.29545581340789795, -0.19919522106647491, 0.3615950644016266];

test('matches cv2 (≤ 1 float32 ulp) and Pillow (bit-exact) on a 2×3 → 5×4 map', () => {
  close(resizeCv2(A23, 1, 2, 3, 5, 4), CV_5x4, 6e-8, 'cv2');
  assert.deepEqual(Array.from(resizePil(A23, 1, 2, 3, 5, 4)), PIL_5x4);
});

test('Pillow downsampling 8×8 → 3×3 (antialiased) matches Pillow 9.4 bit-exact', () => {
  const a = [0.052028972655534744, 0.6836861968040466, 1.0039615631103516, -0.6179070472717285, 1.8220113515853882, -1.3204309940338135, -0.6615280508995056, 0.9350500106811523, 0.04905461519956589, 2.002392530441284, 0.1885191947221756, -0.633194088935852, -0.3775635063648224, -1.0911461114883423, -1.2776801586151123, 0.6304115056991577, 0.5811657905578613, 1.2945587635040283, -0.754605770111084, 1.6891074180603027, -0.2873876988887787, 1.5744082927703857, -0.43278583884239197, -0.7354832887649536, 0.249785378575325, 1.0314531326293945, 0.16100957989692688, -0.5855288505554199, -1.3412196636199951, -1.4015202522277832, 0.5026828646659851, 0.9897130131721497, -0.16429458558559418, -1.0743649005889893, 0.8730421662330627, -1.2803939580917358, -0.7130680680274963, 0.6210178732872009, -2.250141143798828, 0.38636958599090576, -0.5816408395767212, 0.10927969962358475, -0.0757015272974968, 0.20211438834667206, 0.6941719651222229, -0.7583697438240051, 1.420982003211975, 0.7260937690734863, 0.8437326550483704, 1.16486394405365, 0.7875882387161255, 0.8440786600112915, 0.07559361308813095, -1.4267739057540894, -0.1350450962781906, -0.7695146203041077, -1.4227417707443237, 0.25845280289649963, -0.5685494542121887, -1.0298044681549072, -1.0430010557174683, 0.268417090177536, 0.35867196321487427, 1.3224574327468872];
  const pil = [0.6400368213653564, -0.0038390676490962505, -0.2911805212497711, 0.15889118611812592, -0.2538413107395172, -0.12450391799211502, 0.16663245856761932, -0.10984715074300766, 0.0053039491176605225];
  const cv = [1.493765115737915, -0.32080695033073425, -0.8656262755393982, -0.010755658149719238, -0.980052649974823, -0.613434374332428, 0.9224941730499268, 0.21046321094036102, -0.11410793662071228];
  assert.deepEqual(Array.from(resizePil(a, 1, 8, 8, 3, 3)), pil);
  close(resizeCv2(a, 1, 8, 8, 3, 3), cv, 1.2e-7, 'cv2 8→3');
});

test('multi-channel maps and cached resizers', () => {
  const src = new Float32Array([0, 1, 10, 11]); // two 1×2 planes
  close(resizeMaps(src, 2, 1, 2, 1, 4, 'cv2'), [0, 0.25, 0.75, 1, 10, 10.25, 10.75, 11], 1e-6);
  assert.equal(getResizer(7, 7, 112, 112, 'pil'), getResizer(7, 7, 112, 112, 'pil'));
  const t = axisTable(7, 112, 'pil');
  assert.equal(t.taps, 2); // enlarging: repacked to 2 taps
  assert.equal(axisTable(8, 3, 'pil').taps, 7);
  for (let o = 0; o < 112; o++) {
    let s = 0;
    for (let k = 0; k < t.taps; k++) s += t.w[o * t.taps + k];
    assert.ok(Math.abs(s - 1) < 1e-12);
  }
  assert.throws(() => resizeMaps([1, 2], 1, 2, 2, 3, 3, 'cv2'), /need 1×2×2/);
  assert.throws(() => axisTable(0, 3, 'cv2'), /positive integers/);
});
