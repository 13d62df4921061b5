"""Speed of packing variable-length codes (what every Huffman encoder does), measured together.

    python benchmarks/bitstream_bench.py [--codes N]

Compares, on N random codes of lengths 1..16: the Numba kernel behind ``pack_codes``, its NumPy
twin ``pack_codes_reference``, and a loop of ``BitWriter.write`` calls (on a tenth of the codes).
"""

import argparse
import time

import numpy as np

from fromscratch.bitstream import BitWriter, pack_codes, pack_codes_reference


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 17, args.codes).astype(np.uint8)
    codes = (rng.integers(0, 2**16, args.codes).astype(np.uint64)
             & ((np.uint64(1) << lengths.astype(np.uint64)) - np.uint64(1)))
    packed, n_bits = pack_codes(codes, lengths)  # compiles the kernel
    assert (packed, n_bits) == pack_codes_reference(codes, lengths)
    megabytes = len(packed) / 1e6

    def bitwriter_loop(count=args.codes // 10):
        writer = BitWriter()
        for code, length in zip(codes[:count].tolist(), lengths[:count].tolist(), strict=True):
            writer.write(code, length)
        return writer.getvalue()

    results = [
        ("pack_codes (Numba)", best_of(lambda: pack_codes(codes, lengths)), 1.0),
        ("pack_codes_reference (NumPy)", best_of(lambda: pack_codes_reference(codes, lengths)),
         1.0),
        ("BitWriter.write loop (1/10 of the codes)", best_of(bitwriter_loop, 2), 0.1),
    ]
    print(f"{args.codes} codes, lengths 1..16, {megabytes:.2f} MB packed")
    print(f"{'method':44s} {'ms':>9s} {'MB/s':>8s}")
    for name, seconds, fraction in results:
        print(f"{name:44s} {seconds * 1e3:9.1f} {megabytes * fraction / seconds:8.1f}")


if __name__ == "__main__":
    main()
