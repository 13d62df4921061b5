"""Chapter 4 benchmark: our convolutions and GDN against torch on CPU, in the same run.

    python benchmarks/conv_bench.py [--threads 2] [--repeat 5] [--batch 8] [--channels 64 128]

For the layers of a Ballé et al. (2017) codec on 128 x 128 crops, with N channels and M = 3N/2
latent channels (N = 64 -> M = 96, N = 128 -> M = 192), all 5 x 5 with stride 2:

    analysis   3 -> N   on (B, 3, 128, 128)     synthesis  M -> N  on (B, M, 16, 16)
               N -> N   on (B, N, 64, 64)                  N -> N  on (B, N, 32, 32)
               N -> M   on (B, N, 32, 32)                  N -> 3  on (B, N, 64, 64)

it times the forward pass and forward + backward (every gradient: input, weight, bias) of our
layers (training mode) and of ``torch.nn.functional.conv2d`` / ``conv_transpose2d``, interleaved
(ours, torch, ours, torch, ...) and keeps the best of ``--repeat`` for each, so that both see the
same machine load. Rates are GFLOP/s counting 2 flops per multiply-add (the backward pass does
twice the forward's work); ``ratio`` is ours / torch (> 1: we are faster). Then GDN forward +
backward on (B, 128, 64, 64), in milliseconds, against the same formula in torch autograd.

BLAS (NumPy), torch and Numba all get ``--threads`` threads. Writes benchmarks/results/conv.csv.

On a loaded machine (other processes on every core), wall-clock times measure the scheduler
more than the code: the best of 5 of the same layer moved by 3x from run to run at a load of 6.
``--clock cpu --threads 1`` times each call by the CPU time of this process instead
(``time.process_time``), which leaves out the time spent waiting for a core; with one thread
that is a fair comparison of the two implementations' work even when the machine is busy.
"""

import argparse
import os
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="threads for BLAS, torch, Numba")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 128], help="values of N")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall-clock time, or this process's CPU time (use with --threads 1)")
    parser.add_argument("--out", type=Path, default=RESULTS / "conv.csv")
    return parser.parse_args(argv)


#: the clock of :func:`best_times`, set by ``--clock``
CLOCK = time.perf_counter


def best_times(functions, repeat):
    """Best seconds (:data:`CLOCK`) of each function, run interleaved ``repeat`` times after one
    untimed warm-up each (compilation, allocator, caches)."""
    for fn in functions:
        fn()
    best = [float("inf")] * len(functions)
    for _ in range(repeat):
        for i, fn in enumerate(functions):
            start = CLOCK()
            fn()
            best[i] = min(best[i], CLOCK() - start)
    return best


def layer_cases(batch, n):
    m = n * 3 // 2
    return [  # (name, transposed, C_in, C_out, input size)
        (f"g_a conv 3->{n}", False, 3, n, 128),
        (f"g_a conv {n}->{n}", False, n, n, 64),
        (f"g_a conv {n}->{m}", False, n, m, 32),
        (f"g_s convT {m}->{n}", True, m, n, 16),
        (f"g_s convT {n}->{n}", True, n, n, 32),
        (f"g_s convT {n}->3", True, n, 3, 64),
    ]


def bench_layer(np, torch, conv, name, transposed, c_in, c_out, size, batch, repeat, rng):
    """Our layer module in training mode (it reuses its work arrays from call to call, as in
    a training loop) against torch's functional op with every input requiring a gradient."""
    x = rng.standard_normal((batch, c_in, size, size), dtype=np.float32)
    tf = torch.nn.functional
    if transposed:
        layer = conv.ConvTranspose2d(c_in, c_out, 5, stride=2, padding=2, output_padding=1,
                                     rng=0)
        out_size = 2 * size
        flops = 2 * batch * c_in * c_out * 25 * size * size  # every input pixel x every tap

        def torch_op(tx, tw, tb):
            return tf.conv_transpose2d(tx, tw, tb, 2, 2, 1)
    else:
        layer = conv.Conv2d(c_in, c_out, 5, stride=2, padding=2, rng=0)
        out_size = size // 2
        flops = 2 * batch * c_in * c_out * 25 * out_size * out_size

        def torch_op(tx, tw, tb):
            return tf.conv2d(tx, tw, tb, 2, 2)

    g = rng.standard_normal((batch, c_out, out_size, out_size), dtype=np.float32)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_()
                  for a in (x, layer.weight.data, layer.bias.data))
    tg = torch.from_numpy(g)

    def ours_both():
        layer(x)
        layer.backward(g)

    def torch_forward():
        with torch.no_grad():
            torch_op(tx, tw, tb)

    def torch_both():
        tx.grad = tw.grad = tb.grad = None
        torch_op(tx, tw, tb).backward(tg)

    t_fwd, t_torch_fwd = best_times([lambda: layer(x), torch_forward], repeat)
    t_both, t_torch_both = best_times([ours_both, torch_both], repeat)
    return {
        "layer": name,
        "input": f"{batch}x{c_in}x{size}x{size}",
        "gflop_fwd": round(flops / 1e9, 3),
        "ours_fwd_gflops": round(flops / t_fwd / 1e9, 1),
        "torch_fwd_gflops": round(flops / t_torch_fwd / 1e9, 1),
        "fwd_ratio": round(t_torch_fwd / t_fwd, 2),
        "ours_fwdbwd_gflops": round(3 * flops / t_both / 1e9, 1),
        "torch_fwdbwd_gflops": round(3 * flops / t_torch_both / 1e9, 1),
        "fwdbwd_ratio": round(t_torch_both / t_both, 2),
    }


def bench_gdn(np, torch, gdn, batch, repeat, rng, channels=128, size=64):
    x = rng.standard_normal((batch, channels, size, size), dtype=np.float32)
    g = rng.standard_normal(x.shape, dtype=np.float32)
    layer = gdn.GDN(channels)
    layer.gamma_param.data += rng.uniform(0, 0.05, (channels, channels)).astype(np.float32)
    tx = torch.from_numpy(x).requires_grad_()
    tbeta = torch.from_numpy(layer.beta_param.data.copy()).requires_grad_()
    tgamma = torch.from_numpy(layer.gamma_param.data.copy()).requires_grad_()
    tg = torch.from_numpy(g)

    def ours():
        layer.zero_grad()
        layer(x)
        layer.backward(g)

    def theirs():
        tx.grad = tbeta.grad = tgamma.grad = None
        beta = torch.clamp(tbeta, min=layer.beta_bound) ** 2 - layer.pedestal
        gamma = torch.clamp(tgamma, min=layer.gamma_bound) ** 2 - layer.pedestal
        norm = torch.nn.functional.conv2d(tx * tx, gamma[:, :, None, None], beta)
        (tx / torch.sqrt(norm)).backward(tg)

    t_ours, t_torch = best_times([ours, theirs], repeat)
    return {"layer": f"GDN fwd+bwd {channels}ch", "input": f"{batch}x{channels}x{size}x{size}",
            "ours_ms": round(t_ours * 1e3, 1), "torch_ms": round(t_torch * 1e3, 1),
            "fwdbwd_ratio": round(t_torch / t_ours, 2)}


def format_rows(rows):
    conv_rows = [r for r in rows if "ours_fwd_gflops" in r]
    headers = ["layer", "input", "GFLOP", "fwd ours", "fwd torch", "ratio", "f+b ours",
               "f+b torch", "ratio"]
    keys = ["layer", "input", "gflop_fwd", "ours_fwd_gflops", "torch_fwd_gflops", "fwd_ratio",
            "ours_fwdbwd_gflops", "torch_fwdbwd_gflops", "fwdbwd_ratio"]
    body = [[str(r[k]) for k in keys] for r in conv_rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(headers)]
    lines = ["GFLOP/s (fwd+bwd counts 3x the forward flops); ratio = ours / torch speed",
             "  ".join(h.ljust(w) if i < 2 else h.rjust(w)
                       for i, (h, w) in enumerate(zip(headers, widths, strict=True)))]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(b, widths, strict=True))))
    for r in rows:
        if "ours_ms" in r:
            lines.append(f"{r['layer']} on {r['input']}: ours {r['ours_ms']} ms, torch "
                         f"{r['torch_ms']} ms, ratio {r['fwdbwd_ratio']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    global CLOCK
    args = parse_args(sys.argv[1:] if argv is None else argv)
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy and torch start their pools
    import numpy as np
    import torch

    from fromscratch.bench import save_csv
    from fromscratch.nn import conv, gdn

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    rows = []
    for n in args.channels:
        for case in layer_cases(args.batch, n):
            rows.append(bench_layer(np, torch, conv, *case, args.batch, args.repeat, rng))
            print(rows[-1], flush=True)
    rows.append(bench_gdn(np, torch, gdn, args.batch, args.repeat, rng))
    print(f"\ntorch {torch.__version__}, numpy {np.__version__}, {args.threads} threads, "
          f"batch {args.batch}, best of {args.repeat}, {args.clock} clock\n")
    print(format_rows(rows))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fields = [*rows[0], "ours_ms", "torch_ms"]
    save_csv([{k: r.get(k, "") for k in fields} for r in rows], args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
