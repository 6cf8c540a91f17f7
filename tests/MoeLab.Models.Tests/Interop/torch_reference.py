"""Plain PyTorch reference for MoeLab's MoeLayer and DecoderBlock (the PyTorch parity test).

Written from the layers' definitions, not from MoeLab's code: top-k softmax routing, every expert
run densely on every token and combined with a gate matrix, a shared expert, the four auxiliary
losses, and a pre-norm decoder block (RMSNorm, causal multi-head attention with rotary
embeddings, the MoE layer as its feed-forward). Reads and writes safetensors with its own reader
and writer (the format: 8-byte little-endian header length, a JSON header, raw little-endian
bytes), so it needs nothing but torch (Debian's python3-torch 1.13 is enough).

Usage: torch_reference.py check   DIR   (MoeLab wrote DIR/{config.json, weights, inputs, results}.safetensors;
                                          recompute, compare, exit 1 on any mismatch)
       torch_reference.py produce DIR   (make weights here, write DIR/pytorch-{weights,results}.safetensors
                                          for MoeLab to load and compare)
"""
import json
import math
import struct
import sys

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I64": torch.int64, "I32": torch.int32, "BOOL": torch.bool}
NAMES = {v: k for k, v in DTYPES.items()}


def load_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        shape = info["shape"]
        dtype = DTYPES[info["dtype"]]
        if end > start:
            t = torch.frombuffer(bytearray(data[base + start:base + end]), dtype=dtype).reshape(shape)
        else:
            t = torch.empty(shape, dtype=dtype)
        tensors[name] = t.clone()
    return tensors


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().tobytes() if t.numel() > 0 else b""
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


# ---------------------------------------------------------------- the layers, from their definitions

def expert_ffn(x, w_in, w_out, kind, d_ff):
    h = x @ w_in                                   # [T, d_ff] or [T, 2 d_ff] (gate | up)
    a = F.gelu(h) if kind == "Gelu" else F.silu(h[:, :d_ff]) * h[:, d_ff:]
    return a @ w_out                               # [T, d]


def moe_layer(x, p, prefix, cfg):
    """x [..., T, d]: returns (y, {loss name: scalar})."""
    d, n, k, d_ff = cfg["d"], cfg["experts"], cfg["k"], cfg["d_ff"]
    flat = x.reshape(-1, d)                                       # [B*T, d]
    units = flat.shape[0]
    logits = flat @ p[prefix + "router.gate.weight"].t()          # [B*T, N]
    probs = logits.softmax(-1)
    top, idx = probs.topk(k, dim=-1)                              # [B*T, k]
    g = top / top.sum(-1, keepdim=True) if cfg["renormalize"] else top
    gate = torch.zeros(units, n, dtype=flat.dtype).scatter_add(1, idx, g)   # [B*T, N] dense combine weights
    y = torch.zeros_like(flat)
    w_in, w_out = p[prefix + "experts.w_in"], p[prefix + "experts.w_out"]
    for e in range(n):                                            # every expert on every token
        y = y + gate[:, e:e + 1] * expert_ffn(flat, w_in[e], w_out[e], cfg["kind"], d_ff)
    if cfg["shared_hidden"]:
        y = y + expert_ffn(flat, p[prefix + "shared.w_in"], p[prefix + "shared.w_out"], cfg["kind"], cfg["shared_hidden"])
    # auxiliary losses (unweighted)
    counts = torch.bincount(idx.reshape(-1), minlength=n).to(torch.float32)
    load_balancing = n * (counts / counts.sum() * probs.mean(0)).sum()
    router_z = torch.logsumexp(logits, -1).square().mean()
    entropy = -(probs * probs.clamp_min(1e-30).log()).sum(-1).mean()
    seq_len = x.shape[-2]
    sequences = units // seq_len
    per_sequence = []
    for b in range(sequences):
        rows = slice(b * seq_len, (b + 1) * seq_len)
        c = torch.bincount(idx[rows].reshape(-1), minlength=n).to(torch.float32)
        f = c * n / c.sum()
        per_sequence.append((f * probs[rows].mean(0)).sum())
    sequence_balance = torch.stack(per_sequence).mean()
    losses = {"load_balancing": load_balancing, "router_z": router_z, "entropy": entropy, "sequence_balance": sequence_balance}
    return y.reshape(x.shape), losses


def rms_norm(x, g, eps):
    return x * x.square().mean(-1, keepdim=True).add(eps).rsqrt() * g


def rotate(x, base):
    """Rotary embedding, half-split convention: (x1, x2) -> (x1 cos - x2 sin, x2 cos + x1 sin)."""
    t, dh = x.shape[-2], x.shape[-1]
    half = dh // 2
    theta = torch.exp(torch.arange(half, dtype=torch.float64) * (-2.0 / dh) * math.log(base))
    angle = torch.arange(t, dtype=torch.float64)[:, None] * theta[None, :]       # [T, d_h/2]
    cos = torch.cat([angle.cos(), angle.cos()], -1).to(x.dtype)
    sin = torch.cat([angle.sin(), angle.sin()], -1).to(x.dtype)
    x1, x2 = x[..., :half], x[..., half:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def attention(x, p, prefix, cfg):
    b, t, d = x.shape
    h = cfg["heads"]
    dh = d // h
    q = (x @ p[prefix + "query.weight"].t()).view(b, t, h, dh).transpose(1, 2)
    k = (x @ p[prefix + "key.weight"].t()).view(b, t, h, dh).transpose(1, 2)
    v = (x @ p[prefix + "value.weight"].t()).view(b, t, h, dh).transpose(1, 2)
    q, k = rotate(q, cfg["rotary_base"]), rotate(k, cfg["rotary_base"])
    scores = q @ k.transpose(-1, -2) / math.sqrt(dh)                              # [B, H, T, T]
    future = torch.ones(t, t, dtype=torch.bool).triu(1)
    scores = scores.masked_fill(future, float("-inf"))
    merged = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
    return merged @ p[prefix + "output.weight"].t()


def decoder_block(x, p, cfg):
    hidden = x + attention(rms_norm(x, p["attention_norm.weight"], cfg["eps"]), p, "attention.", cfg)
    f, losses = moe_layer(rms_norm(hidden, p["ffn_norm.weight"], cfg["eps"]), p, "ffn.", cfg)
    return hidden + f, losses


def run(cfg, weights, x, upstream):
    """Forward, the scalar objective sum(y * upstream) + sum(alpha_j L_j), backward.
    Returns a dict of results: y, each loss, dx and d(parameter)."""
    params = {name: t.clone().requires_grad_(True) for name, t in weights.items()}
    x = x.clone().requires_grad_(True)
    y, losses = (decoder_block(x, params, cfg) if cfg["module"] == "block" else moe_layer(x, params, "", cfg))
    objective = (y * upstream).sum()
    for name, alpha in cfg["aux_weights"].items():
        objective = objective + alpha * losses[name]
    objective.backward()
    results = {"output": y.detach(), "input_grad": x.grad.detach()}
    for name, value in losses.items():
        results["loss." + name] = value.detach().reshape(())
    for name, t in params.items():
        results["grad." + name] = t.grad.detach()
    return results


def compare(mine, theirs, tolerance):
    failures = []
    for name in sorted(mine):
        if name not in theirs:
            failures.append(f"{name}: missing from MoeLab's results")
            continue
        a, b = mine[name].to(torch.float64), theirs[name].to(torch.float64)
        if a.shape != b.shape:
            failures.append(f"{name}: shape {list(b.shape)} vs PyTorch {list(a.shape)}")
            continue
        diff = (a - b).abs().max().item() if a.numel() else 0.0
        ok = torch.allclose(a, b, rtol=tolerance, atol=tolerance)
        print(f"{'ok  ' if ok else 'FAIL'} {name:40s} max|diff| {diff:.3e}  (max|value| {a.abs().max().item() if a.numel() else 0:.3e})")
        if not ok:
            failures.append(f"{name}: max |diff| {diff:.3e} > {tolerance}")
    for name in sorted(set(theirs) - set(mine)):
        failures.append(f"{name}: MoeLab reported it, PyTorch did not compute it")
    return failures


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    with open(f"{folder}/config.json") as f:
        cfg = json.load(f)
    torch.set_num_threads(1)
    inputs = load_safetensors(f"{folder}/inputs.safetensors")
    if mode == "check":
        weights = load_safetensors(f"{folder}/weights.safetensors")
        mine = run(cfg, weights, inputs["x"], inputs["upstream"])
        failures = compare(mine, load_safetensors(f"{folder}/results.safetensors"), cfg["tolerance"])
        print(f"torch {torch.__version__}: {len(mine)} quantities compared, {len(failures)} mismatches")
        for failure in failures:
            print("MISMATCH " + failure)
        sys.exit(1 if failures else 0)
    elif mode == "produce":
        # Weights made here, with PyTorch's own generator and nn.Linear-style bounds, then saved.
        generator = torch.Generator().manual_seed(cfg["seed"])
        template = load_safetensors(f"{folder}/weights.safetensors")   # names and shapes only
        weights = {}
        for name in sorted(template):
            shape = template[name].shape
            if name.endswith("norm.weight"):
                weights[name] = 1 + 0.1 * torch.randn(shape, generator=generator)
            else:
                fan_in = shape[-2] if name.endswith(("w_in", "w_out")) else shape[-1]
                weights[name] = (torch.rand(shape, generator=generator) * 2 - 1) / math.sqrt(fan_in)
        save_safetensors(f"{folder}/pytorch-weights.safetensors", weights)
        save_safetensors(f"{folder}/pytorch-results.safetensors", run(cfg, weights, inputs["x"], inputs["upstream"]))
        print(f"torch {torch.__version__}: wrote {len(weights)} weights and their results")
    else:
        raise SystemExit(f"unknown mode {mode!r}: expected check or produce")


if __name__ == "__main__":
    main()
