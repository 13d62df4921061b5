"""Chapter 1 benchmark: entropy coders' sizes and speeds beside their peers, in one run.

    python benchmarks/entropy_bench.py [--megabytes 10] [--repeat 3] [--data DIR]

Sizes
    * Huffman: our total code length (sum of count x length) against an independent textbook
      Huffman (heapq) on random distributions: they must be equal.
    * Range coder: stream size against the ideal code length sum(-log2 p) of the model it used.
Speeds (MB/s of input symbols, best of --repeat), on two inputs: ~10 MB of symbols with about
4 bits/symbol of entropy (a discretised Laplacian) and the same amount of Kodak pixel bytes.
    * ours Huffman (Numba)   vs zlib Z_HUFFMAN_ONLY (C)   vs dahuffman (pure Python, 1 MB subset)
    * ours range coder       vs constriction's RangeEncoder (Rust), static model
    * ours per-symbol CDF tables (chapter 4's interface) vs constriction with per-symbol rows
Targets from the issue: Huffman >= 0.8x zlib, range coder >= 0.3x constriction.
Peers that are not installed (pip install -e ".[bench]") are skipped with a note.
"""

import argparse
import heapq
import json
import time
import zlib
from pathlib import Path

import numpy as np

from fromscratch.data import kodak_paths, load_image
from fromscratch.entropy import huffman
from fromscratch.entropy import range_coder as rc

try:
    import constriction
except ImportError:
    constriction = None
try:
    import dahuffman
except ImportError:
    dahuffman = None


def best_of(fn, repeat):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def textbook_huffman_cost(counts) -> int:
    """Sum of count x code length of an optimal Huffman code, by the heapq textbook method."""
    heap = [int(c) for c in counts if c > 0]
    if len(heap) == 1:
        return heap[0]
    heapq.heapify(heap)
    cost = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        cost += merged  # every merge adds one bit to each symbol below it
        heapq.heappush(heap, merged)
    return cost


def check_sizes(rng) -> dict:
    equal = 0
    trials = 200
    for _ in range(trials):
        size = int(rng.integers(2, 1025))
        counts = rng.integers(0, 10 ** int(rng.integers(1, 7)), size)
        counts[rng.integers(size)] += 1
        lengths = huffman.code_lengths(counts)
        equal += int((counts * lengths).sum()) == textbook_huffman_cost(counts)
    symbols = np.clip(np.round(rng.laplace(128, 3.2, 1_000_000)), 0, 255).astype(np.uint8)
    freqs = rc.quantize_frequencies(np.bincount(symbols, minlength=256))
    ideal_bytes = -np.log2(freqs[symbols] / freqs.sum()).sum() / 8
    actual = len(rc.encode(symbols, freqs))
    print(f"Huffman total length equals the textbook heapq Huffman on {equal}/{trials} random "
          f"distributions")
    print(f"range coder, 10^6 symbols: {actual} bytes vs ideal {ideal_bytes:.1f} "
          f"({actual / ideal_bytes - 1:+.4%})")
    return {"huffman_optimal": f"{equal}/{trials}", "range_bytes": actual,
            "range_ideal_bytes": float(ideal_bytes)}


def speed_rows(name: str, symbols: np.ndarray, repeat: int) -> list[dict]:
    n = symbols.size
    raw = symbols.tobytes()
    counts = np.bincount(symbols, minlength=256)
    p = counts[counts > 0] / n
    print(f"\n{name}: {n / 1e6:.1f} MB, entropy {-(p * np.log2(p)).sum():.3f} bits/symbol")
    rows = []

    def add(coder, encode, decode, check, n_symbols=n):
        t_enc, data = best_of(encode, repeat)
        t_dec, out = best_of(lambda: decode(data), repeat)
        assert check(out), f"{coder} did not round-trip"
        size = data.nbytes if isinstance(data, np.ndarray) else len(data)
        rows.append({"input": name, "coder": coder, "bits_per_symbol": 8 * size / n_symbols,
                     "encode_MBps": n_symbols / t_enc / 1e6,
                     "decode_MBps": n_symbols / t_dec / 1e6})

    huffman.decode(huffman.encode(symbols[:1000]))  # compile before timing
    add("ours Huffman (Numba)", lambda: huffman.encode(symbols, alphabet_size=256),
        huffman.decode, lambda out: np.array_equal(out, symbols))

    def zlib_encode():
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_HUFFMAN_ONLY)
        return compressor.compress(raw) + compressor.flush()

    add("zlib Z_HUFFMAN_ONLY", zlib_encode, lambda d: zlib.decompress(d, -15),
        lambda out: out == raw)

    if dahuffman is not None:
        subset = raw[:1_000_000]
        codec = dahuffman.HuffmanCodec.from_data(subset)
        add("dahuffman (pure Python, 1 MB)", lambda: codec.encode(subset), codec.decode,
            lambda out: bytes(out) == subset, n_symbols=len(subset))
    else:
        print("  dahuffman not installed: skipped")

    freqs = rc.quantize_frequencies(counts)
    rc.decode(rc.encode(symbols[:1000], freqs), freqs, 1000)
    add("ours range coder, static (Numba)", lambda: rc.encode(symbols, freqs),
        lambda d: rc.decode(d, freqs, n), lambda out: np.array_equal(out, symbols))
    rc.decode_adaptive(rc.encode_adaptive(symbols[:1000], 256), 256, 1000)
    add("ours range coder, adaptive (Numba)", lambda: rc.encode_adaptive(symbols, 256),
        lambda d: rc.decode_adaptive(d, 256, n), lambda out: np.array_equal(out, symbols))

    if constriction is not None:
        model = constriction.stream.model.Categorical(freqs / freqs.sum(), perfect=False)
        as_int32 = symbols.astype(np.int32)  # constriction takes int32 symbols

        def c_encode():
            encoder = constriction.stream.queue.RangeEncoder()
            encoder.encode(as_int32, model)
            return encoder.get_compressed()

        add("constriction range coder (Rust)", c_encode,
            lambda d: constriction.stream.queue.RangeDecoder(d).decode(model, n),
            lambda out: np.array_equal(out, as_int32))
    else:
        print("  constriction not installed: skipped")
    return rows


def cdf_rows(rng, m: int, repeat: int) -> list[dict]:
    """Per-symbol CDF tables: 64 discretised Gaussians, the shape of a learned codec's latents."""
    scales = np.geomspace(0.3, 40, 64)
    pmfs, offsets = [], []
    for scale in scales:
        half = int(min(127, max(4, np.ceil(3 * scale))))
        x = np.arange(-half, half + 1)
        pmf = np.exp(-0.5 * (x / scale) ** 2)
        pmfs.append(pmf / pmf.sum() * (1 - 1e-3))  # leave mass for the escape
        offsets.append(-half)
    cdfs, lengths, offs = rc.cdf_tables_from_pmfs(pmfs, offsets)
    indexes = rng.integers(0, len(scales), m).astype(np.int32)
    values = np.round(rng.normal(0, scales[indexes])).astype(np.int32)
    print(f"\nCDF tables: {m} symbols over {len(scales)} tables of {lengths.min()}.."
          f"{lengths.max()} entries")
    rows = []
    rc.encode_with_indexes(values[:100], indexes[:100], cdfs, lengths, offs)
    t_enc, data = best_of(lambda: rc.encode_with_indexes(values, indexes, cdfs, lengths, offs),
                          repeat)
    t_dec, out = best_of(lambda: rc.decode_with_indexes(data, indexes, cdfs, lengths, offs),
                         repeat)
    assert np.array_equal(out, values)
    rows.append({"input": "cdf tables", "coder": "ours encode_with_indexes (Numba)",
                 "bits_per_symbol": 8 * len(data) / m, "encode_MBps": m / t_enc / 1e6,
                 "decode_MBps": m / t_dec / 1e6})
    if constriction is not None:
        rows_of_p = np.zeros((len(scales), lengths.max() - 1), np.float32)
        for t in range(len(scales)):
            used = cdfs[t, : lengths[t]]
            rows_of_p[t, : lengths[t] - 1] = np.diff(used) / used[-1]
        # constriction has no escape: clip into each table's support (a slightly easier task)
        clipped = np.clip(values - offs[indexes], 0, lengths[indexes] - 3).astype(np.int32)
        family = constriction.stream.model.Categorical(perfect=False)

        def c_encode():
            encoder = constriction.stream.queue.RangeEncoder()
            encoder.encode(clipped, family, rows_of_p[indexes])
            return encoder.get_compressed()

        t_enc, compressed = best_of(c_encode, repeat)
        t_dec, out = best_of(lambda: constriction.stream.queue.RangeDecoder(compressed).decode(
            family, rows_of_p[indexes]), repeat)
        assert np.array_equal(out, clipped)
        rows.append({"input": "cdf tables", "coder": "constriction, per-symbol rows (Rust)",
                     "bits_per_symbol": 32 * compressed.size / m, "encode_MBps": m / t_enc / 1e6,
                     "decode_MBps": m / t_dec / 1e6})
    return rows


def print_table(rows: list[dict]) -> None:
    print(f"\n{'input':14s} {'coder':40s} {'bits/sym':>8s} {'enc MB/s':>9s} {'dec MB/s':>9s}")
    for r in rows:
        print(f"{r['input']:14s} {r['coder']:40s} {r['bits_per_symbol']:8.3f} "
              f"{r['encode_MBps']:9.1f} {r['decode_MBps']:9.1f}")


def ratio(rows, input_name, ours, peer, key):
    pick = {r["coder"]: r[key] for r in rows if r["input"] == input_name}
    return pick[ours] / pick[peer] if ours in pick and peer in pick else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=float, default=10)
    parser.add_argument("--cdf-symbols", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    n = int(args.megabytes * 1e6)

    results = {"sizes": check_sizes(rng)}
    laplace = np.clip(np.round(rng.laplace(128, 2.9, n)), 0, 255).astype(np.uint8)
    pixels = np.concatenate([load_image(p).ravel() for p in kodak_paths(args.data)])
    pixels = np.resize(pixels, n)  # repeats the bundled samples when Kodak is absent
    rows = speed_rows("~4 bits/sym", laplace, args.repeat)
    rows += speed_rows("Kodak pixels", pixels, args.repeat)
    rows += cdf_rows(rng, args.cdf_symbols, args.repeat)
    print_table(rows)

    print("\nratios (target: Huffman >= 0.8x zlib, range coder >= 0.3x constriction):")
    for input_name in ("~4 bits/sym", "Kodak pixels"):
        for ours, peer in (("ours Huffman (Numba)", "zlib Z_HUFFMAN_ONLY"),
                           ("ours range coder, static (Numba)", "constriction range coder (Rust)")):
            enc = ratio(rows, input_name, ours, peer, "encode_MBps")
            dec = ratio(rows, input_name, ours, peer, "decode_MBps")
            if enc is not None:
                print(f"  {input_name:13s} {ours:34s} / {peer:32s} "
                      f"enc {enc:5.2f}x  dec {dec:5.2f}x")
    results["rows"] = rows
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "entropy_bench.json").write_text(json.dumps(results, indent=1))
    print(f"\nwrote {out / 'entropy_bench.json'}")


if __name__ == "__main__":
    main()
