// The sign LAPACK's gesdd (numpy's np.linalg.svd) gives the first right singular vector of a matrix, reproduced by
// following the same algorithm far enough to decide it (pytorch-grad-cam's EigenCAM takes VT[0] as it comes):
//   1. gesdd's path (m ≥ n: QR first when m ≥ ⌊11n/6⌋; m < n: LQ first when n ≥ ⌊11m/6⌋), then the Householder
//      bidiagonalisation B = Qᵀ·(A, R or L)·P (xGEBD2 conventions: xLARFG's β = −sign(α)·‖x‖; upper bidiagonal
//      when the matrix has at least as many rows as columns, else lower);
//   2. the top singular vector of B from ours: u_B = Qᵀu (the left reflectors applied to u; u_R = R·v/σ on the QR
//      path, u_L = u on the LQ path), v_B = Bᵀu_B/σ;
//   3. xBDSDC (a lower B first rotated to upper by xLARTG, which leaves VT alone): up to 25 rows xBDSQR's implicit
//      QR iterations, with VT tracked only through y = VT·v_B (the same rotations, sign flips of negative singular
//      values and the descending sort act on y; LAPACK's first row is then sign(y₀)·v_B); above, its divide and
//      conquer as far as the top vector is concerned (divideAndConquerSign: the leftmost leaf's xLASDQ, then the
//      deflation test of the merge above it).
// Against numpy 1.24 (OpenBLAS 0.3.21's LAPACK): equal on all 36 + 210 activation-like matrices, the 12 demo-model
// activation matrices and the 8 tensors of scripts/fixtures/cam_eigen.py (scripts/fixtures/svd_sign*.py). Not
// followed: merges that build a top vector spread over several leaves (close σ₁, σ₂; see docs/cam.md).
// numpy's linalg computes in double precision whatever the input (float32 activations go to dgesdd), so this is
// float64 arithmetic with dgesdd's tolerances; xLARTG is LAPACK ≥ 3.10's (c ≥ 0, r = sign(f)·√(f² + g²)). The sign is only decidable when σ₁ is separated from σ₂: with
// σ₂/σ₁ → 1 the top vector itself is ill-conditioned and LAPACK's sign follows its rounding; so does the deflation
// test when its entry lies within rounding of the tolerance (tests: numpy fixtures).

const EPS = 2 ** -53; // dlamch('Epsilon')
const UNFL = 2 ** -1022; // dlamch('Safe minimum')

/** xLARTG (LAPACK ≥ 3.10): c ≥ 0, r = sign(f)·√(f² + g²), s = g / r. */
function lartg(f: number, g: number): [number, number, number] {
  if (g === 0) return [1, 0, f];
  if (f === 0) return [0, Math.sign(g), Math.abs(g)];
  const d = Math.hypot(f, g);
  const r = f < 0 ? -d : d;
  return [Math.abs(f) / d, g / r, r];
}

/** xLAS2: singular values of [[f, g], [0, h]] (the smaller, the larger). */
function las2(f: number, g: number, h: number): [number, number] {
  const fa = Math.abs(f), ga = Math.abs(g), ha = Math.abs(h);
  const fhmn = Math.min(fa, ha), fhmx = Math.max(fa, ha);
  if (fhmn === 0) {
    if (fhmx === 0) return [0, ga];
    const mx = Math.max(fhmx, ga), mn = Math.min(fhmx, ga);
    return [0, mx * Math.sqrt(1 + (mn / mx) ** 2)];
  }
  if (ga < fhmx) {
    const as = 1 + fhmn / fhmx, at = (fhmx - fhmn) / fhmx, au = (ga / fhmx) ** 2;
    const c = 2 / (Math.sqrt(as * as + au) + Math.sqrt(at * at + au));
    return [fhmn * c, fhmx / c];
  }
  const au = fhmx / ga;
  if (au === 0) return [(fhmn * fhmx) / ga, ga];
  const as = 1 + fhmn / fhmx, at = (fhmx - fhmn) / fhmx;
  const c = 1 / (Math.sqrt(1 + (as * au) ** 2) + Math.sqrt(1 + (at * au) ** 2));
  const smin = fhmn * c * au;
  return [smin + smin, ga / (c + c)];
}

/** Fortran SIGN(a, b): |a| with b's sign bit. */
const sgn = (a: number, b: number) => (b > 0 || Object.is(b, 0) ? Math.abs(a) : -Math.abs(a));

/** xLASV2: SVD of the upper triangular [[f, g], [0, h]] → [ssmin, ssmax, snr, csr, snl, csl]. */
function lasv2(f: number, g: number, h: number): [number, number, number, number, number, number] {
  let ft = f, fa = Math.abs(ft), ht = h, ha = Math.abs(h);
  let pmax = 1;
  const swap = ha > fa;
  if (swap) {
    pmax = 3;
    [ft, ht] = [ht, ft];
    [fa, ha] = [ha, fa];
  }
  const gt = g, ga = Math.abs(gt);
  let ssmin: number, ssmax: number, clt: number, crt: number, slt: number, srt: number;
  if (ga === 0) {
    ssmin = ha;
    ssmax = fa;
    clt = 1;
    crt = 1;
    slt = 0;
    srt = 0;
  } else {
    let gasmal = true;
    ssmin = ssmax = clt = crt = slt = srt = 0;
    if (ga > fa) {
      pmax = 2;
      if (fa / ga < EPS) {
        gasmal = false;
        ssmax = ga;
        ssmin = ha > 1 ? fa / (ga / ha) : (fa / ga) * ha;
        clt = 1;
        slt = ht / gt;
        srt = 1;
        crt = ft / gt;
      }
    }
    if (gasmal) {
      const d = fa - ha;
      let l = d === fa ? 1 : d / fa;
      const m = gt / ft;
      let t = 2 - l;
      const mm = m * m, tt = t * t;
      const s = Math.sqrt(tt + mm);
      const r = l === 0 ? Math.abs(m) : Math.sqrt(l * l + mm);
      const a = 0.5 * (s + r);
      ssmin = ha / a;
      ssmax = fa * a;
      if (mm === 0) t = l === 0 ? sgn(2, ft) * sgn(1, gt) : gt / sgn(d, ft) + m / t;
      else t = (m / (s + t) + m / (r + l)) * (1 + a);
      l = Math.sqrt(t * t + 4);
      crt = 2 / l;
      srt = t / l;
      clt = (crt + srt * m) / a;
      slt = ((ht / ft) * srt) / a;
    }
  }
  const [csl, snl, csr, snr] = swap ? [srt, crt, slt, clt] : [clt, slt, crt, srt];
  let tsign = 1;
  if (pmax === 1) tsign = sgn(1, csr) * sgn(1, csl) * sgn(1, f);
  if (pmax === 2) tsign = sgn(1, snr) * sgn(1, csl) * sgn(1, g);
  if (pmax === 3) tsign = sgn(1, snr) * sgn(1, snl) * sgn(1, h);
  ssmax = sgn(ssmax, tsign);
  ssmin = sgn(ssmin, tsign * sgn(1, f) * sgn(1, h));
  return [ssmin, ssmax, snr, csr, snl, csl];
}

/**
 * xBDSQR on the upper bidiagonal (d, e) (n, n − 1; modified), applied to the n × w row-major matrix y (modified in
 * place) as to VT's first n rows: y = VT·y₀ for a column y₀ (w = 1), or VT itself from y₀ = I. Returns false when
 * it did not converge (xBDSQR's INFO > 0).
 */
export function bdsqrTrack(d: Float64Array, e: Float64Array, y: Float64Array, w = 1): boolean {
  const n = d.length;
  // 1-based views, as the Fortran
  const D = (i: number) => d[i - 1];
  const setD = (i: number, v: number) => (d[i - 1] = v);
  const E = (i: number) => e[i - 1];
  const setE = (i: number, v: number) => (e[i - 1] = v);
  // rotation of rows (a, b) of VT: a ← c·a + s·b, b ← c·b − s·a (xROT; xLASR 'L','V' with (c, s))
  const rot = (a: number, b: number, c: number, s: number) => {
    const oa = (a - 1) * w, ob = (b - 1) * w;
    for (let j = 0; j < w; j++) {
      const ya = y[oa + j], yb = y[ob + j];
      y[ob + j] = c * yb - s * ya;
      y[oa + j] = s * yb + c * ya;
    }
  };
  if (n > 1) {
    const tolmul = Math.max(10, Math.min(100, EPS ** -0.125));
    const tol = tolmul * EPS;
    let smax = 0;
    for (let i = 1; i <= n; i++) smax = Math.max(smax, Math.abs(D(i)));
    for (let i = 1; i < n; i++) smax = Math.max(smax, Math.abs(E(i)));
    let sminoa = Math.abs(D(1));
    if (sminoa !== 0) {
      let mu = sminoa;
      for (let i = 2; i <= n; i++) {
        mu = Math.abs(D(i)) * (mu / (mu + Math.abs(E(i - 1))));
        sminoa = Math.min(sminoa, mu);
        if (sminoa === 0) break;
      }
    }
    sminoa = sminoa / Math.sqrt(n);
    const thresh = Math.max(tol * sminoa, 6 * (n * (n * UNFL)));
    const maxitdivn = 6 * n;
    let iterdivn = 0, iter = -1, oldll = -1, oldm = -1, idir = 0;
    let m = n;
    const cs1 = new Float64Array(n), sn1 = new Float64Array(n), cs2 = new Float64Array(n), sn2 = new Float64Array(n);
    for (;;) {
      if (m <= 1) break;
      if (iter >= n) {
        iter -= n;
        iterdivn++;
        if (iterdivn >= maxitdivn) return false;
      }
      // find the diagonal block
      smax = Math.abs(D(m));
      let ll = 0;
      let split = false;
      for (let lll = 1; lll <= m - 1; lll++) {
        ll = m - lll;
        const abss = Math.abs(D(ll)), abse = Math.abs(E(ll));
        if (abse <= thresh || abse === 0) {
          split = true;
          break;
        }
        smax = Math.max(smax, abss, abse);
      }
      if (split) {
        setE(ll, 0);
        if (ll === m - 1) {
          m -= 1;
          continue;
        }
      } else ll = 0;
      ll += 1;
      if (ll === m - 1) {
        const [sigmn, sigmx, sinr, cosr] = lasv2(D(m - 1), E(m - 1), D(m));
        setD(m - 1, sigmx);
        setE(m - 1, 0);
        setD(m, sigmn);
        rot(m - 1, m, cosr, sinr);
        m -= 2;
        continue;
      }
      if (ll > oldm || m < oldll) idir = Math.abs(D(ll)) >= Math.abs(D(m)) ? 1 : 2;
      let smin = 0;
      let again = false;
      if (idir === 1) {
        if (Math.abs(E(m - 1)) <= Math.abs(tol) * Math.abs(D(m))) {
          setE(m - 1, 0);
          continue;
        }
        let mu = Math.abs(D(ll));
        smin = mu;
        for (let lll = ll; lll <= m - 1; lll++) {
          if (Math.abs(E(lll)) <= tol * mu) {
            setE(lll, 0);
            again = true;
            break;
          }
          mu = Math.abs(D(lll + 1)) * (mu / (mu + Math.abs(E(lll))));
          smin = Math.min(smin, mu);
        }
      } else {
        if (Math.abs(E(ll)) <= Math.abs(tol) * Math.abs(D(ll))) {
          setE(ll, 0);
          continue;
        }
        let mu = Math.abs(D(m));
        smin = mu;
        for (let lll = m - 1; lll >= ll; lll--) {
          if (Math.abs(E(lll)) <= tol * mu) {
            setE(lll, 0);
            again = true;
            break;
          }
          mu = Math.abs(D(lll)) * (mu / (mu + Math.abs(E(lll))));
          smin = Math.min(smin, mu);
        }
      }
      if (again) continue;
      oldll = ll;
      oldm = m;
      let shift: number;
      if (n * tol * (smin / smax) <= Math.max(EPS, 0.01 * tol)) shift = 0;
      else {
        let sll: number;
        if (idir === 1) {
          sll = Math.abs(D(ll));
          shift = las2(D(m - 1), E(m - 1), D(m))[0];
        } else {
          sll = Math.abs(D(m));
          shift = las2(D(ll), E(ll), D(ll + 1))[0];
        }
        if (sll > 0 && (shift / sll) ** 2 < EPS) shift = 0;
      }
      iter += m - ll;
      const k = m - ll + 1; // rows ll..m
      if (shift === 0) {
        if (idir === 1) {
          let cs = 1, oldcs = 1, sn = 0, oldsn = 0, r: number;
          for (let i = ll; i <= m - 1; i++) {
            [cs, sn, r] = lartg(D(i) * cs, E(i));
            if (i > ll) setE(i - 1, oldsn * r);
            let di: number;
            [oldcs, oldsn, di] = lartg(oldcs * r, D(i + 1) * sn);
            setD(i, di);
            cs1[i - ll] = cs;
            sn1[i - ll] = sn;
          }
          const h = D(m) * cs;
          setD(m, h * oldcs);
          setE(m - 1, h * oldsn);
          for (let j = 1; j < k; j++) rot(ll + j - 1, ll + j, cs1[j - 1], sn1[j - 1]);
          if (Math.abs(E(m - 1)) <= thresh) setE(m - 1, 0);
        } else {
          let cs = 1, oldcs = 1, sn = 0, oldsn = 0, r: number;
          for (let i = m; i >= ll + 1; i--) {
            [cs, sn, r] = lartg(D(i) * cs, E(i - 1));
            if (i < m) setE(i, oldsn * r);
            let di: number;
            [oldcs, oldsn, di] = lartg(oldcs * r, D(i - 1) * sn);
            setD(i, di);
            cs2[i - ll - 1] = oldcs;
            sn2[i - ll - 1] = -oldsn;
          }
          const h = D(ll) * cs;
          setD(ll, h * oldcs);
          setE(ll, h * oldsn);
          for (let j = k - 1; j >= 1; j--) rot(ll + j - 1, ll + j, cs2[j - 1], sn2[j - 1]);
          if (Math.abs(E(ll)) <= thresh) setE(ll, 0);
        }
      } else if (idir === 1) {
        let f = (Math.abs(D(ll)) - shift) * (sgn(1, D(ll)) + shift / D(ll));
        let g = E(ll);
        for (let i = ll; i <= m - 1; i++) {
          const rr = lartg(f, g);
          const cosr = rr[0], sinr = rr[1];
          let r = rr[2];
          if (i > ll) setE(i - 1, r);
          f = cosr * D(i) + sinr * E(i);
          setE(i, cosr * E(i) - sinr * D(i));
          g = sinr * D(i + 1);
          setD(i + 1, cosr * D(i + 1));
          let cosl: number, sinl: number;
          [cosl, sinl, r] = lartg(f, g);
          setD(i, r);
          f = cosl * E(i) + sinl * D(i + 1);
          setD(i + 1, cosl * D(i + 1) - sinl * E(i));
          if (i < m - 1) {
            g = sinl * E(i + 1);
            setE(i + 1, cosl * E(i + 1));
          }
          cs1[i - ll] = cosr;
          sn1[i - ll] = sinr;
        }
        setE(m - 1, f);
        for (let j = 1; j < k; j++) rot(ll + j - 1, ll + j, cs1[j - 1], sn1[j - 1]);
        if (Math.abs(E(m - 1)) <= thresh) setE(m - 1, 0);
      } else {
        let f = (Math.abs(D(m)) - shift) * (sgn(1, D(m)) + shift / D(m));
        let g = E(m - 1);
        for (let i = m; i >= ll + 1; i--) {
          const rr = lartg(f, g);
          const cosr = rr[0], sinr = rr[1];
          let r = rr[2];
          if (i < m) setE(i, r);
          f = cosr * D(i) + sinr * E(i - 1);
          setE(i - 1, cosr * E(i - 1) - sinr * D(i));
          g = sinr * D(i - 1);
          setD(i - 1, cosr * D(i - 1));
          let cosl: number, sinl: number;
          [cosl, sinl, r] = lartg(f, g);
          setD(i, r);
          f = cosl * E(i - 1) + sinl * D(i - 1);
          setD(i - 1, cosl * D(i - 1) - sinl * E(i - 1));
          if (i > ll + 1) {
            g = sinl * E(i - 2);
            setE(i - 2, cosl * E(i - 2));
          }
          cs2[i - ll - 1] = cosl;
          sn2[i - ll - 1] = -sinl;
        }
        setE(ll, f);
        if (Math.abs(E(ll)) <= thresh) setE(ll, 0);
        for (let j = k - 1; j >= 1; j--) rot(ll + j - 1, ll + j, cs2[j - 1], sn2[j - 1]);
      }
    }
  }
  // make the singular values positive (negating VT's rows), then sort them descending (xBDSQR's one-swap sort)
  for (let i = 1; i <= n; i++) {
    if (D(i) === 0) setD(i, 0);
    if (D(i) < 0) {
      setD(i, -D(i));
      for (let j = 0; j < w; j++) y[(i - 1) * w + j] = -y[(i - 1) * w + j];
    }
  }
  for (let i = 1; i <= n - 1; i++) {
    let isub = 1;
    let smin = D(1);
    for (let j = 2; j <= n + 1 - i; j++) {
      if (D(j) <= smin) {
        isub = j;
        smin = D(j);
      }
    }
    if (isub !== n + 1 - i) {
      setD(isub, D(n + 1 - i));
      setD(n + 1 - i, smin);
      for (let j = 0; j < w; j++) [y[(isub - 1) * w + j], y[(n - i) * w + j]] = [y[(n - i) * w + j], y[(isub - 1) * w + j]];
    }
  }
  return true;
}

/**
 * H = I − τ·v·vᵀ from the left on rows r0..rows−1 and columns c0..n−1 of a (row-major, n columns), v stored in column
 * vc of those rows (its first entry read as 1 by the caller's convention: a[r0·n + vc] must hold 1). Row-wise passes.
 */
function applyLeft(a: Float64Array, n: number, r0: number, rows: number, vc: number, c0: number, tau: number, acc: Float64Array): void {
  acc.fill(0, c0, n);
  for (let r = r0; r < rows; r++) {
    const vr = a[r * n + vc];
    if (vr === 0) continue;
    const o = r * n;
    for (let j = c0; j < n; j++) acc[j] += vr * a[o + j];
  }
  for (let j = c0; j < n; j++) acc[j] *= tau;
  for (let r = r0; r < rows; r++) {
    const vr = a[r * n + vc];
    if (vr === 0) continue;
    const o = r * n;
    for (let j = c0; j < n; j++) a[o + j] -= vr * acc[j];
  }
}

/** xLARFG on x (length ≥ 1, x[0] = α): returns [β, τ] and leaves v (v₀ = 1) in x[1..]. */
function larfg(x: Float64Array, off: number, len: number, stride: number): [number, number] {
  const alpha = x[off];
  let ss = 0;
  for (let i = 1; i < len; i++) ss += x[off + i * stride] * x[off + i * stride];
  const xn = Math.sqrt(ss); // xNRM2 without its scaling (activations are far from overflow)
  if (xn === 0) return [alpha, 0];
  const beta = -sgn(Math.hypot(alpha, xn), alpha);
  const tau = (beta - alpha) / beta;
  const sc = 1 / (alpha - beta);
  for (let i = 1; i < len; i++) x[off + i * stride] *= sc;
  return [beta, tau];
}

/**
 * Householder QR of a (rows × cols, row-major, rows ≥ cols; modified): R (cols × cols, row-major) with xGEQR2's
 * signs. Used on Xᵀ for the LQ path (L = Rᵀ).
 */
function householderR(a: Float64Array, rows: number, cols: number): Float64Array {
  const acc = new Float64Array(cols);
  for (let i = 0; i < cols; i++) {
    const [beta, tau] = larfg(a, i * cols + i, rows - i, cols);
    a[i * cols + i] = 1;
    if (tau !== 0) applyLeft(a, cols, i, rows, i, i + 1, tau, acc);
    a[i * cols + i] = beta;
  }
  const R = new Float64Array(cols * cols);
  for (let i = 0; i < cols; i++) for (let j = i; j < cols; j++) R[i * cols + j] = a[i * cols + j];
  return R;
}

/**
 * xGEBD2 on a (m × n, row-major; modified) applying the left reflectors to u (length m; modified): returns d, e
 * and whether B is upper bidiagonal; u's first min(m, n) entries are then u_B.
 */
function bidiagonalise(a: Float64Array, m: number, n: number, u: Float64Array): { d: Float64Array; e: Float64Array; upper: boolean } {
  const k = Math.min(m, n);
  const d = new Float64Array(k);
  const e = new Float64Array(Math.max(k - 1, 0));
  const vec = new Float64Array(Math.max(m, n));
  const acc = new Float64Array(n);
  const left = (i0: number, col: number, tau: number, fromCol: number) => {
    // H = I − τ·v·vᵀ on rows i0.. (v in column `col` from row i0, v₀ = 1) applied to columns fromCol.. and to u
    const keep = a[i0 * n + col];
    a[i0 * n + col] = 1;
    applyLeft(a, n, i0, m, col, fromCol, tau, acc);
    let s = 0;
    for (let r = i0; r < m; r++) s += a[r * n + col] * u[r];
    s *= tau;
    for (let r = i0; r < m; r++) u[r] -= s * a[r * n + col];
    a[i0 * n + col] = keep;
  };
  const right = (row: number, j0: number, tau: number, fromRow: number) => {
    // G = I − τ·w·wᵀ on columns j0.. (w in row `row` from column j0, w₀ = 1) applied to rows fromRow..
    const len = n - j0;
    for (let c = 0; c < len; c++) vec[c] = c === 0 ? 1 : a[row * n + j0 + c];
    for (let r = fromRow; r < m; r++) {
      let s = 0;
      for (let c = 0; c < len; c++) s += a[r * n + j0 + c] * vec[c];
      s *= tau;
      for (let c = 0; c < len; c++) a[r * n + j0 + c] -= s * vec[c];
    }
  };
  if (m >= n) {
    for (let i = 0; i < n; i++) {
      const [beta, tau] = larfg(a, i * n + i, m - i, n);
      if (tau !== 0) left(i, i, tau, i + 1);
      d[i] = beta;
      if (i < n - 1) {
        const [b2, t2] = larfg(a, i * n + i + 1, n - i - 1, 1);
        if (t2 !== 0) right(i, i + 1, t2, i + 1);
        e[i] = b2;
      }
    }
    return { d, e, upper: true };
  }
  for (let i = 0; i < m; i++) {
    const [beta, tau] = larfg(a, i * n + i, n - i, 1);
    if (tau !== 0) right(i, i, tau, i + 1);
    d[i] = beta;
    if (i < m - 1) {
      const [b2, t2] = larfg(a, (i + 1) * n + i, m - i - 1, n);
      if (t2 !== 0) left(i + 1, i, t2, i + 1);
      e[i] = b2;
    }
  }
  return { d, e, upper: false };
}

/**
 * ±1: the sign that makes the unit top right singular vector v of X (m × n, row-major; u = X·v/σ) equal to
 * LAPACK gesdd's VT[0] (see the module comment). X is not modified.
 */
export function lapackTopSign(X: Float64Array, m: number, n: number, v: Float64Array, u: Float64Array, sigma: number): number {
  if (!(sigma > 0)) return 1;
  const mn = Math.min(m, n);
  const mnthr = Math.floor((mn * 11) / 6);
  let B: Float64Array, bm: number, bn: number, uu: Float64Array;
  if (m >= n && m >= mnthr) {
    B = householderR(X.slice(), m, n);
    bm = bn = n;
    uu = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = i; j < n; j++) s += B[i * n + j] * v[j];
      uu[i] = s / sigma;
    }
  } else if (m < n && n >= mnthr) {
    const xt = new Float64Array(n * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) xt[j * m + i] = X[i * n + j];
    const R = householderR(xt, n, m); // L = Rᵀ (m × m)
    B = new Float64Array(m * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) B[i * m + j] = R[j * m + i];
    bm = bn = m;
    uu = Float64Array.from(u);
  } else {
    B = X.slice();
    bm = m;
    bn = n;
    uu = Float64Array.from(u);
  }
  const { d, e, upper } = bidiagonalise(B, bm, bn, uu);
  const k = d.length;
  // v_B = Bᵀ·u_B / σ
  const y = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let s = d[j] * uu[j];
    if (upper && j > 0) s += e[j - 1] * uu[j - 1];
    if (!upper && j < k - 1) s += e[j] * uu[j + 1];
    y[j] = s / sigma;
  }
  if (!upper) lowerToUpper(d, e, k); // as xBDSDC / xBDSQR: rotations on the left (U only; VT untouched)
  if (k <= SMLSIZ) {
    bdsqrTrack(d, e, y); // xBDSDC → xLASDQ (square) → xBDSQR
    return y[0] < 0 ? -1 : 1;
  }
  return divideAndConquerSign(d, e, y);
}

/** A lower bidiagonal (d, e; n) made upper by xLARTG rotations from the left, in place (U only, VT untouched). */
function lowerToUpper(d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 0; i < n - 1; i++) {
    const [c, s, r] = lartg(d[i], e[i]);
    d[i] = r;
    e[i] = s * d[i + 1];
    d[i + 1] = c * d[i + 1];
  }
}

/** xBDSDC's divide-and-conquer threshold (ILAENV's SMLSIZ). */
const SMLSIZ = 25;

/**
 * xBDSDC above SMLSIZ rows (xLASD0): the bidiagonal is split recursively (xLASDT: a node of n rows has a left part of
 * ⌊n/2⌋ rows, then its centre row) and the leaves are solved by xLASDQ. The top singular vector lives in the leading
 * rows of a Householder bidiagonal, so it starts on the leftmost leaf (rows 0..nl−1, columns 0..nl, SQRE = 1:
 * xLASDQ rotates it to lower bidiagonal by right rotations, applied to VT, back to upper by left rotations, then runs
 * xBDSQR). At the merge above that leaf (xLASD1/2/3, centre row nl, α = d[nl], β = e[nl]) its entry z = α·w[nl]
 * of the updating row (w: the leaf's top vector as xLASDQ computes it) is compared with xLASD2's tolerance
 * 8·ε·max(|α|, |β|, σ_leaf): at or below it the vector is deflated and copied unchanged — with zeros outside the leaf,
 * so every merge above deflates it too; above it xLASD3 recomputes it from the secular equation,
 * v ∝ Σ_j z_j / (d_j² − σ²)·(child vector j), dominated by w with a negative denominator: v ≈ −sign(z)·w. Then the
 * merges above are assumed to deflate it again (not followed further).
 */
function divideAndConquerSign(d: Float64Array, e: Float64Array, y: Float64Array): number {
  const k = d.length;
  const levels = Math.floor(Math.log(k / (SMLSIZ + 1)) / Math.log(2)) + 1;
  let nl = Math.floor(k / 2);
  for (let l = 1; l < levels; l++) nl = Math.floor(nl / 2);
  const dl = d.slice(0, nl);
  const el = e.slice(0, nl); // el[nl − 1] couples the extra column nl
  const w = nl + 1;
  const vt = new Float64Array(w * w); // the leaf's VT, from I
  for (let i = 0; i < w; i++) vt[i * w + i] = 1;
  // upper nl × (nl + 1) → lower nl × nl: rotations on the right, applied to VT's rows (xLASR 'L', 'V', 'F')
  const cs = new Float64Array(nl), sn = new Float64Array(nl);
  for (let i = 0; i < nl; i++) {
    const [c, s, r] = lartg(dl[i], el[i]);
    dl[i] = r;
    if (i < nl - 1) {
      el[i] = s * dl[i + 1];
      dl[i + 1] = c * dl[i + 1];
    } else el[i] = 0;
    cs[i] = c;
    sn[i] = s;
  }
  for (let i = 0; i < nl; i++) {
    for (let j = 0; j < w; j++) {
      const ya = vt[i * w + j], yb = vt[(i + 1) * w + j];
      vt[(i + 1) * w + j] = cs[i] * yb - sn[i] * ya;
      vt[i * w + j] = sn[i] * yb + cs[i] * ya;
    }
  }
  lowerToUpper(dl, el, nl); // rotations on the left (U only)
  bdsqrTrack(dl, el.subarray(0, nl - 1), vt.subarray(0, nl * w), w);
  // the leaf's top vector (row 0 after the descending sort) against ours
  let dot = 0;
  for (let j = 0; j < w; j++) dot += vt[j] * y[j];
  const sLeaf = dot < 0 ? -1 : 1;
  const alpha = d[nl], beta = nl < e.length ? e[nl] : 0;
  const z = alpha * vt[nl];
  if (Math.abs(z) <= 8 * EPS * Math.max(Math.abs(alpha), Math.abs(beta), dl[0])) return sLeaf;
  return z < 0 ? sLeaf : -sLeaf;
}
