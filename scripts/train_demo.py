#!/usr/bin/python3
"""Train the embedded demo CNN (models/demo) on the project's synthetic concept dataset and export it.

Reproducible end to end: the data comes from the project's own generator with fixed seeds, every torch/numpy seed is
fixed and deterministic algorithms are on (2 CPU threads). Steps:
  1. `node bin/xai.mjs make-dataset shapes` → WORK/train (seed --train-seed) and WORK/eval (seed --eval-seed)
  2. load images + per-image class labels (main object's shape); train a small BN/ReLU CNN
  3. held-out accuracy on WORK/eval (must be >= --min-accuracy, else exit 1 and nothing is written to --out)
  4. torch.onnx.export (opset 13, eval-mode BatchNormalization kept as inference BN) → WORK/model.raw.onnx
  5. `node --import tsx scripts/export-tfjs.ts` renames the ONNX values after the module scopes (stage outputs →
     stem, layer1, layer2, layer3) → OUT/model.onnx, and writes the TF.js layers model OUT/tfjs/
  6. OUT/labels.txt, OUT/training.json (seeds, counts, normalisation, accuracy, timings), and the model configs
     configs/models/demo.yaml (ONNX) + demo-tfjs.yaml (TF.js) with the normalisation used in training

Run from the repository root with Debian's torch:  /usr/bin/python3 scripts/train_demo.py
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------------------------------- model
class Stage(nn.Module):
    """n × (conv3x3 → BN → ReLU); the first conv has the stage's stride. The last ReLU's output is the stage output."""

    def __init__(self, cin, cout, stride, n):
        super().__init__()
        self.n = n
        for j in range(1, n + 1):
            setattr(self, f'conv{j}', nn.Conv2d(cin if j == 1 else cout, cout, 3, stride if j == 1 else 1, 1, bias=False))
            setattr(self, f'bn{j}', nn.BatchNorm2d(cout))
            setattr(self, f'relu{j}', nn.ReLU())

    def forward(self, x):
        for j in range(1, self.n + 1):
            x = getattr(self, f'relu{j}')(getattr(self, f'bn{j}')(getattr(self, f'conv{j}')(x)))
        return x


class DemoNet(nn.Module):
    # (name, out channels, stride, convs)
    STAGES = [('stem', 16, 2, 1), ('layer1', 32, 2, 2), ('layer2', 64, 2, 2), ('layer3', 128, 2, 2)]

    def __init__(self, num_classes):
        super().__init__()
        cin = 3
        for name, cout, stride, n in self.STAGES:
            setattr(self, name, Stage(cin, cout, stride, n))
            cin = cout
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        for name, *_ in self.STAGES:
            x = getattr(self, name)(x)
        return self.fc(torch.flatten(self.pool(x), 1))


# ----------------------------------------------------------------------------------------------------- data
def run(cmd):
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def generate(out_dir, count, size, seed):
    run(['node', 'bin/xai.mjs', 'make-dataset', 'shapes', '--out', out_dir, '--count', str(count), '--size', str(size),
         '--seed', str(seed), '--force', '--quiet'])


def load_split(data_dir):
    """Images (uint8 N×H×W×3) and class indices of a generated dataset. See read_classification() for the format."""
    paths, labels, class_names = read_classification(data_dir)
    imgs = np.stack([np.asarray(Image.open(p).convert('RGB'), dtype=np.uint8) for p in paths])
    return imgs, np.asarray(labels, dtype=np.int64), class_names


def read_classification(data_dir):
    """The generator's classification files: classes.txt (class names in index order, one a line) and labels.csv
    (columns image, split, label, label_name, gt_mask; image paths relative to the dataset root). Every row is used;
    the generator's own train/val split column is ignored (held-out data comes from a different seed)."""
    with open(os.path.join(data_dir, 'classes.txt')) as f:
        classes = [line.strip() for line in f if line.strip()]
    paths, labels = [], []
    with open(os.path.join(data_dir, 'labels.csv'), newline='') as f:
        for row in csv.DictReader(f):
            k = int(row['label'])
            if not 0 <= k < len(classes) or classes[k] != row['label_name']:
                sys.exit(f'{data_dir}/labels.csv: row {row} does not match classes.txt')
            paths.append(os.path.join(data_dir, row['image']))
            labels.append(k)
    if not paths:
        sys.exit(f'{data_dir}/labels.csv has no rows')
    return paths, labels, classes


# ----------------------------------------------------------------------------------------------------- train
def to_tensor(imgs, mean, std):
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div_(255.0)
    return (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)


def evaluate(model, imgs, labels, mean, std, bs=200):
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(imgs), bs):
            preds.append(model(to_tensor(imgs[i:i + bs], mean, std)).argmax(1).numpy())
    preds = np.concatenate(preds)
    return float((preds == labels).mean()), preds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default='models/demo')
    ap.add_argument('--work', default='.tmp/train-demo', help='generated data + raw ONNX (git-ignored)')
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--train-count', type=int, default=5000)
    ap.add_argument('--eval-count', type=int, default=1000)
    ap.add_argument('--train-seed', type=int, default=1)
    ap.add_argument('--eval-seed', type=int, default=2)
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=0.1)
    ap.add_argument('--seed', type=int, default=0, help='torch/numpy seed (init, shuffling, augmentation)')
    ap.add_argument('--min-accuracy', type=float, default=0.9)
    ap.add_argument('--skip-generate', action='store_true', help='reuse WORK/train and WORK/eval')
    ap.add_argument('--configs', default='configs/models', help="where demo.yaml / demo-tfjs.yaml go ('' = don't write)")
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    work = os.path.join(ROOT, args.work)
    out = os.path.join(ROOT, args.out)
    train_dir, eval_dir = os.path.join(work, 'train'), os.path.join(work, 'eval')
    if not args.skip_generate:
        generate(os.path.relpath(train_dir, ROOT), args.train_count, args.size, args.train_seed)
        generate(os.path.relpath(eval_dir, ROOT), args.eval_count, args.size, args.eval_seed)
    t_gen = time.time() - t0

    xtr, ytr, classes = load_split(train_dir)
    xev, yev, classes_ev = load_split(eval_dir)
    if classes != classes_ev:
        sys.exit(f'class lists differ between {train_dir} and {eval_dir}: {classes} vs {classes_ev}')
    if xtr.shape[1:3] != (args.size, args.size):
        sys.exit(f'images are {xtr.shape[1:3]}, expected {args.size}²')
    nc = len(classes)
    print(f'train {len(xtr)} eval {len(xev)} classes {nc}: {classes}')
    print('train class counts', np.bincount(ytr, minlength=nc).tolist())
    # Normalisation from the training set, rounded so the config holds short numbers.
    flat = xtr.reshape(-1, 3).astype(np.float64) / 255.0
    mean = [round(float(v), 3) for v in flat.mean(0)]
    std = [round(float(v), 3) for v in flat.std(0)]
    del flat
    print('mean', mean, 'std', std)

    model = DemoNet(nc)
    params = sum(p.numel() for p in model.parameters())
    print(f'parameters {params}')
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4, nesterov=True)
    steps_per_epoch = len(xtr) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs, steps_per_epoch=steps_per_epoch,
                                                pct_start=0.25)
    t1 = time.time()
    history = []
    for ep in range(args.epochs):
        model.train()
        perm = rng.permutation(len(xtr))
        tot, correct, n = 0.0, 0, 0
        for b in range(steps_per_epoch):
            idx = np.sort(perm[b * args.batch:(b + 1) * args.batch])
            xb = to_tensor(xtr[idx], mean, std)
            flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
            xb[flip] = xb[flip].flip(3)  # horizontal flip: a shape's class is mirror-invariant
            yb = torch.from_numpy(ytr[idx])
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += float(loss) * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            n += len(idx)
        acc, _ = evaluate(model, xev, yev, mean, std)
        history.append({'epoch': ep + 1, 'loss': tot / n, 'train_acc': correct / n, 'eval_acc': acc})
        print(f'epoch {ep + 1}/{args.epochs} loss {tot / n:.4f} train {correct / n:.4f} held-out {acc:.4f} '
              f'({time.time() - t1:.0f}s)', flush=True)
    t_train = time.time() - t1
    acc, preds = evaluate(model, xev, yev, mean, std)
    conf = np.zeros((nc, nc), dtype=int)
    for t, p in zip(yev, preds):
        conf[t, p] += 1
    print(f'held-out accuracy {acc:.4f}')
    print('confusion (rows = truth):')
    for i, c in enumerate(classes):
        print(f'  {c:>10s} ' + ' '.join(f'{v:4d}' for v in conf[i]))
    if acc < args.min_accuracy:
        sys.exit(f'held-out accuracy {acc:.4f} < {args.min_accuracy}; nothing written to {out}')

    # Export: eval mode, BatchNormalization kept (inference form: one output, running statistics).
    model.eval()
    os.makedirs(work, exist_ok=True)
    raw = os.path.join(work, 'model.raw.onnx')
    torch.onnx.export(model, torch.zeros(1, 3, args.size, args.size), raw, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True,
                      input_names=['input'], output_names=['logits'],
                      dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}})
    os.makedirs(out, exist_ok=True)
    renames = []
    for name, _, _, n in DemoNet.STAGES:
        renames += ['--rename', f'{name}.relu{n}={name}']
    run(['node', '--import', 'tsx', 'scripts/export-tfjs.ts', '--onnx', os.path.relpath(raw, ROOT), '--rename-scopes',
         *renames, '--write-onnx', os.path.relpath(os.path.join(out, 'model.onnx'), ROOT),
         '--out', os.path.relpath(os.path.join(out, 'tfjs'), ROOT)])
    with open(os.path.join(out, 'labels.txt'), 'w') as f:
        f.write(''.join(c + '\n' for c in classes))
    info = {
        'architecture': [{'name': s, 'channels': c, 'stride': st, 'convs': n} for s, c, st, n in DemoNet.STAGES],
        'parameters': params,
        'input': {'size': args.size, 'layout': 'NCHW', 'channelOrder': 'RGB', 'scale': 1 / 255, 'mean': mean, 'std': std},
        'classes': classes,
        'data': {'generator': 'node bin/xai.mjs make-dataset shapes', 'size': args.size,
                 'train': {'count': args.train_count, 'seed': args.train_seed},
                 'eval': {'count': args.eval_count, 'seed': args.eval_seed}},
        'training': {'epochs': args.epochs, 'batch': args.batch, 'optimizer': 'SGD nesterov momentum 0.9 wd 5e-4',
                     'schedule': f'OneCycle max_lr {args.lr} pct_start 0.25', 'augmentation': 'horizontal flip p=0.5',
                     'seed': args.seed, 'torch': torch.__version__, 'threads': 2},
        'heldOutAccuracy': acc,
        'confusion': conf.tolist(),
        'history': history,
        'seconds': {'generate': round(t_gen, 1), 'train': round(t_train, 1), 'total': round(time.time() - t0, 1)},
    }
    with open(os.path.join(out, 'training.json'), 'w') as f:
        json.dump(info, f, indent=1)
        f.write('\n')
    if args.configs:
        write_configs(os.path.join(ROOT, args.configs), os.path.relpath(out, ROOT), args.size, mean, std)
    print(f'wrote {out} in {time.time() - t0:.0f}s')


def write_configs(cfg_dir, out_rel, size, mean, std):
    os.makedirs(cfg_dir, exist_ok=True)
    layers = ''.join(f'  {name}: {name}\n' for name, *_ in DemoNet.STAGES)
    for fname, model_name, path, runtime in [('demo.yaml', 'demo', f'{out_rel}/model.onnx', 'ONNX (onnxruntime-node)'),
                                             ('demo-tfjs.yaml', 'demo-tfjs', f'{out_rel}/tfjs/model.json', 'TF.js layers')]:
        text = (f'# The embedded demo CNN, {runtime}: the main object\'s shape in synthetic "shapes" images.\n'
                f'# Written by scripts/train_demo.py (normalisation = training-set statistics); see {out_rel}/MODEL_CARD.md.\n'
                f'name: {model_name}\n'
                f'path: {path}\n'
                f'labels: {out_rel}/labels.txt\n'
                f'input:\n'
                f'  size: {size}\n'
                f'  channel_order: RGB\n'
                f'  scale: 0.00392156862745098  # 1/255\n'
                f'  mean: [{", ".join(str(v) for v in mean)}]\n'
                f'  std: [{", ".join(str(v) for v in std)}]\n'
                f'# Stage outputs (ReLU of the last conv of each stage) for dissection and CAMs; layer3 is the last conv layer.\n'
                f'layers:\n{layers}')
        with open(os.path.join(cfg_dir, fname), 'w') as f:
            f.write(text)
        print(f'wrote {os.path.join(cfg_dir, fname)}')


if __name__ == '__main__':
    main()
