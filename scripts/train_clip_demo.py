#!/usr/bin/python3
"""Train the embedded CLIP-Dissect demo encoder (models/clip-demo): a small dual encoder — an image encoder CNN and
one embedding per concept word — on the synthetic concept dataset's captions, and export it.

A caption is the set of concept words an image shows, read from its Broden annotations: the colours and shapes
present in its color/object masks, its scene and its texture (33 words in 4 categories). Training pulls an image's
embedding towards the words of its caption and away from the others: a per-word sigmoid loss on
scale·cos(image, word) + bias (SigLIP-style; with one fixed vocabulary there is no text encoder, only word
embeddings). Reproducible: the project's generator with fixed seeds, fixed torch/numpy seeds, deterministic
algorithms, 2 CPU threads. Steps:
  1. `node bin/xai.mjs make-dataset shapes` → WORK/train (seed --train-seed), WORK/eval (seed --eval-seed)
  2. captions from index.csv + mask PNGs (label = R + 256·G); train
  3. held-out: per category, how often the best-scoring word of that category is in the caption (zero-shot)
  4. OUT/image_encoder.onnx (input 'input' N×3×S×S normalised as configs/models/clip-demo.yaml, output
     'embedding' N×D), OUT/concepts.csv (concept, category, e0…: the word embeddings), OUT/training.json, and
     configs/models/clip-demo.yaml

Run from the repository root with Debian's torch:  /usr/bin/python3 scripts/train_clip_demo.py
"""
import argparse
import csv
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from train_demo import ROOT, run, to_tensor  # scripts/train_demo.py: the repository root, a logged subprocess, NHWC uint8 → normalised NCHW


class ImageEncoder(nn.Module):
    """conv5×5/4 → 3 × conv3×3/2 (BN, ReLU) → global average pool → linear to the embedding."""

    def __init__(self, dim):
        super().__init__()
        chans = [(3, 16, 5, 4), (16, 32, 3, 2), (32, 64, 3, 2), (64, 64, 3, 2)]
        layers = []
        for cin, cout, k, s in chans:
            layers += [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(64, dim)

    def forward(self, x):
        return self.proj(torch.flatten(F.adaptive_avg_pool2d(self.features(x), 1), 1))


def vocabulary(data_dir):
    """(names, categories, number → word index) from label.csv."""
    names, cats, index = [], [], {}
    with open(os.path.join(data_dir, 'label.csv'), newline='') as f:
        for row in csv.DictReader(f):
            index[int(row['number'])] = len(names)
            names.append(row['name'])
            cats.append(row['category'].split('(')[0])
    return names, cats, index


def load(data_dir, index, nwords):
    """Images (uint8 N×S×S×3) and captions (N × words, 0/1) of a generated dataset."""
    imgs, caps = [], []
    with open(os.path.join(data_dir, 'index.csv'), newline='') as f:
        for row in csv.DictReader(f):
            imgs.append(np.asarray(Image.open(os.path.join(data_dir, 'images', row['image'])).convert('RGB'), dtype=np.uint8))
            cap = np.zeros(nwords, dtype=np.float32)
            for cat in ('color', 'object'):
                m = np.asarray(Image.open(os.path.join(data_dir, 'images', row[cat])).convert('RGB'), dtype=np.int64)
                for v in np.unique(m[..., 0] + 256 * m[..., 1]):
                    if v:
                        cap[index[int(v)]] = 1
            for cat in ('scene', 'texture'):
                for v in row[cat].split(';'):
                    if v:
                        cap[index[int(v)]] = 1
            caps.append(cap)
    return np.stack(imgs), np.stack(caps)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='models/clip-demo')
    ap.add_argument('--work', default='.tmp/train-clip-demo', help='generated data (git-ignored)')
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--train-count', type=int, default=4000)
    ap.add_argument('--eval-count', type=int, default=500)
    ap.add_argument('--train-seed', type=int, default=3)
    ap.add_argument('--eval-seed', type=int, default=4)
    ap.add_argument('--dim', type=int, default=32)
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--configs', default='configs/models')
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    work, out = os.path.join(ROOT, args.work), os.path.join(ROOT, args.out)
    tr, ev = os.path.join(work, 'train'), os.path.join(work, 'eval')
    for d, n, s in ((tr, args.train_count, args.train_seed), (ev, args.eval_count, args.eval_seed)):
        run(['node', 'bin/xai.mjs', 'make-dataset', 'shapes', '--out', os.path.relpath(d, ROOT), '--count', str(n),
             '--size', str(args.size), '--seed', str(s), '--force', '--quiet'])
    names, cats, index = vocabulary(tr)
    xtr, ctr = load(tr, index, len(names))
    xev, cev = load(ev, index, len(names))
    print(f'train {len(xtr)} eval {len(xev)} words {len(names)}; mean caption length {ctr.sum(1).mean():.1f}')
    flat = xtr.reshape(-1, 3).astype(np.float64) / 255.0
    mean = [round(float(v), 3) for v in flat.mean(0)]
    std = [round(float(v), 3) for v in flat.std(0)]
    del flat

    enc = ImageEncoder(args.dim)
    words = nn.Parameter(torch.randn(len(names), args.dim) * 0.1)
    scale = nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))
    bias = nn.Parameter(torch.tensor(-3.0))
    params = list(enc.parameters()) + [words, scale, bias]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-4)
    steps = len(xtr) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps, pct_start=0.2)

    def logits(x):
        return scale.exp() * F.normalize(enc(x), dim=1) @ F.normalize(words, dim=1).T + bias

    def zero_shot(x, c):
        """Per category: the fraction of images whose best-scoring word of that category is in the caption."""
        enc.eval()
        with torch.no_grad():
            s = torch.cat([logits(to_tensor(x[i:i + 250], mean, std)) for i in range(0, len(x), 250)]).numpy()
        enc.train()
        res = {}
        for cat in sorted(set(cats)):
            idx = [i for i, k in enumerate(cats) if k == cat]
            best = np.array(idx)[s[:, idx].argmax(1)]
            res[cat] = float(c[np.arange(len(c)), best].mean())
        return res

    history = []
    t1 = time.time()
    for ep in range(args.epochs):
        perm = rng.permutation(len(xtr))
        tot = 0.0
        for b in range(steps):
            idx = np.sort(perm[b * args.batch:(b + 1) * args.batch])
            xb = to_tensor(xtr[idx], mean, std)
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            xb[flip] = xb[flip].flip(3)  # captions are mirror-invariant
            loss = F.binary_cross_entropy_with_logits(logits(xb), torch.from_numpy(ctr[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss)
        zs = zero_shot(xev, cev)
        history.append({'epoch': ep + 1, 'loss': tot / steps, 'heldout_top1_in_caption': zs})
        print(f'epoch {ep + 1}/{args.epochs} loss {tot / steps:.4f} held-out {zs} ({time.time() - t1:.0f}s)', flush=True)
    t_train = time.time() - t1

    enc.eval()
    os.makedirs(out, exist_ok=True)
    torch.onnx.export(enc, torch.zeros(1, 3, args.size, args.size), os.path.join(out, 'image_encoder.onnx'), opset_version=13,
                      input_names=['input'], output_names=['embedding'], dynamic_axes={'input': {0: 'N'}, 'embedding': {0: 'N'}})
    w = words.detach().numpy().astype(np.float32)
    with open(os.path.join(out, 'concepts.csv'), 'w', newline='') as f:
        wr = csv.writer(f, lineterminator='\n')
        wr.writerow(['concept', 'category'] + [f'e{d}' for d in range(args.dim)])
        for i, n in enumerate(names):
            wr.writerow([n, cats[i]] + [repr(float(v)) for v in w[i]])
    info = {
        'image_encoder': {'layers': 'conv5x5/4-16, conv3x3/2-32, conv3x3/2-64, conv3x3/2-64 (BN, ReLU), GAP, linear',
                          'embedding_dim': args.dim, 'parameters': sum(p.numel() for p in enc.parameters())},
        'input': {'size': args.size, 'channelOrder': 'RGB', 'scale': 1 / 255, 'mean': mean, 'std': std},
        'vocabulary': [{'concept': n, 'category': c} for n, c in zip(names, cats)],
        'data': {'generator': 'node bin/xai.mjs make-dataset shapes', 'size': args.size,
                 'train': {'count': args.train_count, 'seed': args.train_seed}, 'eval': {'count': args.eval_count, 'seed': args.eval_seed}},
        'training': {'loss': 'per-word sigmoid BCE on exp(s)·cos + b', 'epochs': args.epochs, 'batch': args.batch,
                     'optimizer': f'AdamW wd 1e-4, OneCycle max_lr {args.lr}', 'augmentation': 'horizontal flip p=0.5',
                     'seed': args.seed, 'torch': torch.__version__, 'threads': 2,
                     'final_scale': float(scale.exp()), 'final_bias': float(bias)},
        'heldout_top1_in_caption': history[-1]['heldout_top1_in_caption'],
        'history': history,
        'seconds': {'train': round(t_train, 1), 'total': round(time.time() - t0, 1)},
    }
    with open(os.path.join(out, 'training.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    if args.configs:
        rel = os.path.relpath(out, ROOT)
        with open(os.path.join(ROOT, args.configs, 'clip-demo.yaml'), 'w') as f:
            f.write(f'# The embedded CLIP-Dissect demo image encoder (ONNX): a {args.dim}-d embedding per image; its concept\n'
                    f'# embeddings are {rel}/concepts.csv. Written by scripts/train_clip_demo.py; see {rel}/MODEL_CARD.md.\n'
                    f'name: clip-demo\npath: {rel}/image_encoder.onnx\ninput:\n  size: {args.size}\n  channel_order: RGB\n'
                    f'  scale: 0.00392156862745098  # 1/255\n  mean: [{", ".join(map(str, mean))}]\n  std: [{", ".join(map(str, std))}]\n')
    print(f'wrote {out} in {time.time() - t0:.0f}s')


if __name__ == '__main__':
    main()
